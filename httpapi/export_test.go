package httpapi

// Routes returns "METHOD /pattern" for every route s serves (for tests).
func Routes(s *Server) []string {
	var out []string
	for _, r := range s.routeTable() {
		out = append(out, r.method+" "+r.pattern)
	}
	return out
}
