// Package scaffold writes the sources of a new native Conveyor plugin (what
// `conveyor plugin new NAME --lang c|go` does): a folder whose `make`
// builds NAME.so, a working plugin with one transform stage NAME.example
// that passes rows through and appends the boolean column NAME_seen, true
// in every row, for the user to edit.
package scaffold

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/conveyor-etl/conveyor/plugins"
)

//go:embed templates
var templates embed.FS

// Languages are the languages Scaffold writes.
var Languages = []string{"c", "go"}

// ErrExists is returned when a file Scaffold would write already exists.
var ErrExists = errors.New("file exists")

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Scaffold writes a plugin named name in language lang ("c" or "go") into
// dir, creating dir if needed: the sources, conveyor_plugin.h and a
// Makefile whose default target builds dir/NAME.so. It writes no file
// over an existing one (ErrExists). name must be a lower-case identifier
// (it prefixes the stage name, C symbols and the library's file name).
func Scaffold(dir, name, lang string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("plugin name %q: use lower case letters, digits and underscores, starting with a letter", name)
	}
	root := path.Join("templates", lang)
	entries, err := fs.ReadDir(templates, root)
	if err != nil {
		return fmt.Errorf("language %q: not one of %s", lang, strings.Join(Languages, ", "))
	}
	files := map[string][]byte{"conveyor_plugin.h": plugins.Header}
	for _, e := range entries {
		b, err := fs.ReadFile(templates, path.Join(root, e.Name()))
		if err != nil {
			return err
		}
		out := strings.ReplaceAll(strings.TrimSuffix(e.Name(), ".tmpl"), "NAME", name)
		files[out] = []byte(strings.ReplaceAll(string(b), "__NAME__", name))
	}
	for f := range files {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("%s: %w; choose another folder", filepath.Join(dir, f), ErrExists)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for f, b := range files {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
