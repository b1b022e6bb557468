package valueloop

import "time"

// Session is a signed-in browser of the web dashboard as stored: the
// SHA-256 of the identifier its cookie holds (never the identifier), the
// token it signed in with, and when it ends unless used again.
type Session struct {
	Hash      []byte
	TokenID   int64
	CreatedAt time.Time
	ExpiresAt time.Time
}
