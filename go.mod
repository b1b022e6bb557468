module github.com/valueloop/valueloop

go 1.26.8
