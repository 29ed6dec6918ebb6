package fileio

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExpandExistingIgnoresMissingFiles(t *testing.T) {
	dir := t.TempDir()
	if got := ExpandExisting(filepath.Join(dir, "missing.csv")); len(got) != 0 {
		t.Fatalf("missing plain path: %v", got)
	}
	if got := ExpandExisting(filepath.Join(dir, "*.csv")); len(got) != 0 {
		t.Fatalf("glob without match: %v", got)
	}
	p := filepath.Join(dir, "a.csv")
	if err := os.WriteFile(p, []byte("x\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ExpandExisting(p); len(got) != 1 || got[0] != p {
		t.Fatalf("existing path: %v", got)
	}
	if got := ExpandExisting(filepath.Join(dir, "*.csv")); len(got) != 1 {
		t.Fatalf("glob: %v", got)
	}
}
