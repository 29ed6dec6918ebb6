// Package httpxtest holds the HTTP server that the spec examples of the
// HTTP stages (http.fetch, http.post, ...) run against: the examples'
// configs use ExampleURL, which the example runner replaces with the
// address of a Server it starts.
package httpxtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/conveyor-etl/conveyor/internal/httpx"
)

// ExampleURL is the base URL written in the examples' configs.
const ExampleURL = httpx.ExampleURL

// Server is an httptest server answering the examples:
//
//   - GET /users/{id}: {"id":id,"name":...} for ids 1, 2 and 3 (Ann, Bob,
//     Cy), 404 {"error":"no user {id}"} otherwise;
//   - POST /sentiment: a JSON array of objects with a "text" member in, the
//     array of {"label":"positive"|"negative"} out (positive when the text
//     contains "good");
//   - any other request: recorded (see Received) and answered 200
//     {"ok":true}.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	recv strings.Builder
}

// Start starts a Server on 127.0.0.1. Call Close when done.
func Start() *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Rewrite replaces ExampleURL in an example's config with the server's
// address.
func (s *Server) Rewrite(config string) string {
	return strings.ReplaceAll(config, ExampleURL, s.URL)
}

// Received returns every recorded request, in arrival order, as a line
// "METHOD /path?query" followed, when the request had a body, by the body
// and a newline if it lacks one.
func (s *Server) Received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recv.String()
}

var users = map[string]string{"1": "Ann", "2": "Bob", "3": "Cy"}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/users/"):
		id := strings.TrimPrefix(r.URL.Path, "/users/")
		name, ok := users[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":"no user %s"}`, id)
			return
		}
		fmt.Fprintf(w, `{"id":%s,"name":%q}`, id, name)
	case r.Method == http.MethodPost && r.URL.Path == "/sentiment":
		var in []struct{ Text string }
		if err := json.Unmarshal(body, &in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":%q}`, err.Error())
			return
		}
		out := make([]map[string]string, len(in))
		for i, x := range in {
			out[i] = map[string]string{"label": "negative"}
			if strings.Contains(x.Text, "good") {
				out[i]["label"] = "positive"
			}
		}
		json.NewEncoder(w).Encode(out)
	default:
		s.mu.Lock()
		s.recv.WriteString(r.Method + " " + r.URL.RequestURI() + "\n")
		if len(body) > 0 {
			s.recv.Write(body)
			if body[len(body)-1] != '\n' {
				s.recv.WriteByte('\n')
			}
		}
		s.mu.Unlock()
		io.WriteString(w, `{"ok":true}`)
	}
}
