package delivery

// The IANA zone database is embedded (about 450 KB) so that ParseZone, and
// with it the tz of reports, works on a machine without /usr/share/zoneinfo
// (a distroless or scratch container image). Go uses the system's database
// when there is one and this copy only otherwise.
import _ "time/tzdata"
