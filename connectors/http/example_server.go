package httpconn

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
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
