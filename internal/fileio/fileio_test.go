package fileio

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestAtomicCommitAndAbort(t *testing.T) {
	for _, codec := range []Compression{None, Gzip, Zstd} {
		t.Run(string(codec), func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "sub", "out.txt")
			a, err := Create(target, codec)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(a, "hello\n")
			if _, err := os.Stat(target); !os.IsNotExist(err) {
				t.Fatal("target exists before commit")
			}
			if err := a.Commit(); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(target); err != nil || st.Mode().Perm() != 0o644 {
				t.Fatalf("committed file mode %v (%v)", st.Mode(), err)
			}
			r, err := Open(target, codec)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			r.Close()
			if string(b) != "hello\n" {
				t.Fatalf("read back %q", b)
			}

			b2, err := Create(target, codec)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(b2, "partial")
			b2.Abort()
			left, _ := filepath.Glob(filepath.Join(dir, "sub", ".*"))
			if len(left) != 0 {
				t.Fatalf("temporary files left: %v", left)
			}
			r, _ = Open(target, codec)
			b, _ = io.ReadAll(r)
			r.Close()
			if string(b) != "hello\n" {
				t.Fatalf("abort touched the target: %q", b)
			}
		})
	}
}

func TestExpandAndDetect(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.csv", "a.csv", "c.json"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	got, err := Expand(filepath.Join(dir, "*.csv"))
	if err != nil || len(got) != 2 || filepath.Base(got[0]) != "a.csv" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := Expand(filepath.Join(dir, "*.parquet")); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("want ErrNoMatch, got %v", err)
	}
	if Detect("x.csv.gz") != Gzip || Detect("x.ZST") != Zstd || Detect("x.csv") != None {
		t.Fatal("Detect")
	}
	if c, err := Resolve("auto", "x.zst"); err != nil || c != Zstd {
		t.Fatal("Resolve auto")
	}
	if _, err := Resolve("lz4", "x"); err == nil {
		t.Fatal("Resolve accepted lz4")
	}
}
