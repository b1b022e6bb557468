package httpapi

import "net/http"

// Routes returns "METHOD /pattern" for every route s serves (for tests).
func Routes(s *Server) []string {
	var out []string
	for _, r := range s.routeTable() {
		out = append(out, r.method+" "+r.pattern)
	}
	return out
}

// Handler returns s's routes as one handler, for benchmarks without a network.
func Handler(s *Server) http.Handler { return s.routes() }
