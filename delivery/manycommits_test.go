package delivery_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
)

// TestPushWithManyCommits: a push whose payload lists 50,000 commits,
// each with a flag trailer, is stored with each commit's link and handed
// to the value loop with each commit's message. Before the fix each commit
// was matched against every change (and each link against the links
// before it) to find its message and links: quadratic, the test ran past
// a 60 s -timeout.
func TestPushWithManyCommits(t *testing.T) {
	ctx := t.Context()
	s, db, c := mustService(t)
	var texts []delivery.ChangeText
	s.Linked = func(_ context.Context, ts []delivery.ChangeText) error { texts = ts; return nil }
	const n = 50_000
	at := c.t.Add(-time.Hour).Format(time.RFC3339)
	var commits strings.Builder
	for i := range n {
		if i > 0 {
			commits.WriteByte(',')
		}
		fmt.Fprintf(&commits, `{"id": "%040x", "timestamp": "%s", "message": "change %d\n\nvalueloop-flag: flag-%d"}`, i+1, at, i, i%100)
	}
	body := []byte(`{"ref": "refs/heads/main", "after": "` + fmt.Sprintf("%040x", n) + `", "deleted": false,
		"repository": {"full_name": "acme-shop/many", "default_branch": "main", "pushed_at": "` + at + `"},
		"commits": [` + commits.String() + `]}`)
	r, err := s.Receive(ctx, delivery.KindGitHub, ghHook(body, "push", "many-1"))
	if err != nil || r.Changes != n || r.FlagLinks != n {
		t.Fatalf("push: %+v, %v; want %d changes and links", r, err, n)
	}
	if len(texts) != n || texts[n-1].Message != fmt.Sprintf("change %d\n\nvalueloop-flag: flag-%d", n-1, (n-1)%100) {
		t.Errorf("handed %d texts to the value loop, want %d with their messages", len(texts), n)
	}
	data, _, err := db.DeliveryData(ctx)
	if err != nil || len(data.Changes) != n {
		t.Fatalf("stored %d changes, %v", len(data.Changes), err)
	}
}
