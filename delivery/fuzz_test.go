package delivery_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/github"
)

// FuzzReceive sends correctly signed deliveries with arbitrary bodies and
// event types: each is stored whole, acknowledged as ignored or refused as
// invalid; nothing panics and nothing is an internal error (which would
// mean the store refused what validation let through).
func FuzzReceive(f *testing.F) {
	for _, dir := range []string{"github", "gitlab", "opsgenie"} {
		files, _ := filepath.Glob(filepath.Join("..", dir, "testdata", "*.json"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			event := strings.SplitN(filepath.Base(file), ".", 2)[0]
			if dir != "github" {
				event = ""
			}
			f.Add(dir, event, b)
		}
	}
	s, db, _ := mustService(f)
	ctx := context.Background()
	n := 0
	f.Fuzz(func(t *testing.T, forge, event string, body []byte) {
		n++
		h := delivery.Hook{Event: event, DeliveryID: "fuzz-" + strconv.Itoa(n), Body: body}
		kind := delivery.KindGitHub
		switch forge {
		case "gitlab":
			kind, h.Credential = delivery.KindGitLab, glSecret
		case "opsgenie":
			kind, h.Credential = delivery.KindOpsgenie, ogSecret
		default:
			h.Credential = github.Sign([]byte(ghSecret), body)
		}
		before, _ := db.Deliveries(ctx, "", 1000)
		r, err := s.Receive(ctx, kind, h)
		if code := valueloop.ErrorCode(err); code != "" && code != valueloop.EINVALID {
			t.Fatalf("%s %q: %v", kind, event, err)
		}
		after, _ := db.Deliveries(ctx, "", 1000)
		switch {
		case err != nil && len(after) != len(before):
			t.Fatalf("a refused delivery was stored")
		case err == nil && !r.Duplicate && len(after) != len(before)+1 && len(before) < 1000:
			t.Fatalf("an accepted delivery stored %d deliveries", len(after)-len(before))
		}
	})
}
