package wasm

import (
	"embed"
	"io/fs"
)

//go:embed guest/*.go
var guestSDK embed.FS

// GuestSDK returns the source of the Go guest SDK (package wasm/guest):
// its .go files, tests excluded, at the root of the returned FS. The
// scaffold copies it into new plugin projects so they build on their own.
func GuestSDK() fs.FS {
	sub, err := fs.Sub(guestSDK, "guest")
	if err != nil {
		panic(err) // the pattern above guarantees the directory
	}
	return sdkFS{sub}
}

// sdkFS hides test files.
type sdkFS struct{ fs.FS }

func (f sdkFS) ReadDir(name string) ([]fs.DirEntry, error) {
	all, err := fs.ReadDir(f.FS, name)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if !isTestFile(e.Name()) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f sdkFS) Open(name string) (fs.File, error) {
	if isTestFile(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f.FS.Open(name)
}

func isTestFile(name string) bool {
	return len(name) > 8 && name[len(name)-8:] == "_test.go"
}
