package httpconn

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/conveyor-etl/conveyor/flow"
)

// ServeExampleSpec is http.serve bound for running its examples offline
// (as stdio.StreamSpec binds stdin.stream to a reader): whatever address
// the example's config names, it listens on 127.0.0.1:0, and once it
// listens it POSTs the request bodies of input in turn (bodies are
// separated by lines "---"). A request answered with anything but 202 ends
// the run with an error naming it. The examples set max_requests, so the
// run ends once every body was accepted.
func ServeExampleSpec(input string) *flow.Spec {
	bodies := splitExampleBodies(input)
	return serveSpec(&serveHooks{
		listen: "127.0.0.1:0",
		bound: func(ctx context.Context, url string) error {
			return postExampleBodies(ctx, url, bodies)
		},
	})
}

func splitExampleBodies(input string) []string {
	var bodies []string
	for _, part := range strings.Split(input, "\n---\n") {
		if strings.TrimSpace(part) != "" {
			bodies = append(bodies, part)
		}
	}
	return bodies
}

// postExampleBodies POSTs each body to url in turn.
func postExampleBodies(ctx context.Context, url string, bodies []string) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i, body := range bodies {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("example request %d: %w", i+1, err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("example request %d: HTTP %d: %s", i+1, resp.StatusCode, bytes.TrimSpace(text))
		}
	}
	return nil
}

// ExampleBaseURL is the base of the URLs in http.get's examples; the
// example test serves it with NewExampleServer (see ExampleConfig).
const ExampleBaseURL = "https://api.example.com"

// ExampleConfig rewrites an example's Config so that its URLs point at
// the example server (srvURL, an httptest server's URL) instead of
// ExampleBaseURL.
func ExampleConfig(config, srvURL string) string {
	return strings.ReplaceAll(config, ExampleBaseURL, srvURL)
}

// NewExampleServer starts a local server answering the API calls of
// http.get's examples (the caller closes it):
//
//   - GET /v1/users?page=N&per_page=K: five users, {"data": {"items": [...]}};
//   - GET /v1/events?after=C: three events, two per page,
//     {"events": [...], "meta": {"next": C or null}};
//   - GET /v1/readings.csv?station=S&offset=O&limit=L: three readings as CSV;
//   - GET /v1/logs?page=N: three JSON lines over two pages linked by a
//     Link header (rel="next").
func NewExampleServer() *httptest.Server {
	users := []map[string]any{{"id": 1, "name": "ana"}, {"id": 2, "name": "bo"}, {"id": 3, "name": "cy"}, {"id": 4, "name": "dee"}, {"id": 5, "name": "eli"}}
	events := []string{`{"seq":1,"kind":"click"}`, `{"seq":2,"kind":"view"}`, `{"seq":3,"kind":"click"}`}
	readings := []string{"oslo,20.5", "oslo,21", "oslo,19.75"}
	intParam := func(r *http.Request, name string, def int) int {
		if n, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil {
			return n
		}
		return def
	}
	window := func(n, from, size int) (int, int) {
		from = min(max(from, 0), n)
		return from, min(from+max(size, 0), n)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		size := intParam(r, "per_page", 2)
		from, to := window(len(users), (intParam(r, "page", 1)-1)*size, size)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"items": users[from:to]}, "page": intParam(r, "page", 1)})
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		from := 0
		if c := r.URL.Query().Get("after"); c != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(c, "c"))
			if err != nil {
				http.Error(w, `{"error":"bad cursor"}`, http.StatusBadRequest)
				return
			}
			from = n
		}
		from, to := window(len(events), from, 2)
		next := "null"
		if to < len(events) {
			next = fmt.Sprintf(`"c%d"`, to)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"events": [%s], "meta": {"next": %s}}`, strings.Join(events[from:to], ","), next)
	})
	mux.HandleFunc("GET /v1/readings.csv", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("station") != "oslo" {
			http.Error(w, "unknown station", http.StatusNotFound)
			return
		}
		from, to := window(len(readings), intParam(r, "offset", 0), intParam(r, "limit", 100))
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprint(w, "station,temp\n")
		for _, line := range readings[from:to] {
			fmt.Fprintln(w, line)
		}
	})
	mux.HandleFunc("GET /v1/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		if intParam(r, "page", 1) == 1 {
			w.Header().Set("Link", `</v1/logs?page=2>; rel="next", </v1/logs?page=2>; rel="last"`)
			fmt.Fprint(w, `{"level":"info","msg":"up"}`+"\n"+`{"level":"warn","msg":"slow"}`+"\n")
			return
		}
		fmt.Fprint(w, `{"level":"info","msg":"ok"}`+"\n")
	})
	return httptest.NewServer(mux)
}
