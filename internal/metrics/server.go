package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ShutdownTimeout bounds the graceful shutdown of the server: scrapes in
// progress get that long to finish before their connections are closed.
const ShutdownTimeout = 5 * time.Second

// Handler serves /metrics from reg, /healthz (200 while the process
// serves) and /readyz (200 while src's run is in PhaseRunning, else 503
// with the phase in the body).
func Handler(reg *prometheus.Registry, src Source, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slogErrorLog{logger},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		phase := PhaseOf(src)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if phase != PhaseRunning {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %s\n", phase)
			return
		}
		fmt.Fprintf(w, "ready: %s\n", phase)
	})
	return mux
}

// slogErrorLog passes promhttp's errors (a collector failing) to the logger.
type slogErrorLog struct{ logger *slog.Logger }

func (l slogErrorLog) Println(v ...any) {
	if l.logger != nil {
		l.logger.Warn("metrics: " + fmt.Sprint(v...))
	}
}

// Server is a running metrics endpoint.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	logger *slog.Logger
	done   chan struct{} // closed when Serve returned
	once   sync.Once
	err    error
}

// Listen binds addr (host:port; port 0 picks a free one) and serves h on
// it in the background until Shutdown is called or ctx is done.
func Listen(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics server: %w", err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		ln: ln, logger: logger, done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "addr", s.Addr(), "error", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Shutdown()
		case <-s.done:
		}
	}()
	logger.Info("serving metrics", "addr", s.Addr(), "paths", "/metrics /healthz /readyz")
	return s, nil
}

// Addr is the address the server listens on (with the port chosen when
// the requested port was 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting connections, lets requests in progress finish
// (within ShutdownTimeout) and waits for the server to stop. It may be
// called more than once.
func (s *Server) Shutdown() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.err = fmt.Errorf("metrics server shutdown: %w", err)
			s.srv.Close()
		}
		<-s.done
		s.logger.Debug("metrics server stopped", "addr", s.Addr())
	})
	return s.err
}

// Serve starts the metrics endpoint of a run: a fresh registry with a
// Collector over src, the Go and process collectors, served on addr.
func Serve(ctx context.Context, addr string, src Source, opts Options, logger *slog.Logger) (*Server, error) {
	reg := NewRegistry(NewCollector(src, opts))
	return Listen(ctx, addr, Handler(reg, src, logger), logger)
}
