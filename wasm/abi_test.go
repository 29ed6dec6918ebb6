package wasm_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/wasm"
)

// fakeModule assembles a WebAssembly module that has every export a
// plugin needs, all doing nothing, and whose conveyor_abi_version returns
// abi: enough to reach the version check without the guest SDK.
func fakeModule(abi byte) []byte {
	section := func(id byte, body ...byte) []byte {
		out := []byte{id}
		for n := len(body); ; n >>= 7 { // the size, LEB128
			if n < 0x80 {
				out = append(out, byte(n))
				break
			}
			out = append(out, byte(n&0x7f|0x80))
		}
		return append(out, body...)
	}
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	exports := []string{
		"conveyor_buffer", "conveyor_describe", "conveyor_validate", "conveyor_create",
		"conveyor_process", "conveyor_flush", "conveyor_destroy", "conveyor_last_error", "_initialize",
	}
	exp := []byte{byte(len(exports) + 2)}
	exp = append(append(exp, name("conveyor_abi_version")...), 0x00, 0x00) // func 0
	exp = append(append(exp, name("memory")...), 0x02, 0x00)               // memory 0
	for _, e := range exports {
		exp = append(append(exp, name(e)...), 0x00, 0x01) // func 1: a no-op
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(1, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x00, 0x00)...) // types: ()→i32, ()→()
	m = append(m, section(3, 0x02, 0x00, 0x01)...)                               // functions
	m = append(m, section(5, 0x01, 0x00, 0x01)...)                               // one memory, 1 page
	m = append(m, section(7, exp...)...)
	m = append(m, section(10, 0x02, 0x04, 0x00, 0x41, abi, 0x0b, 0x02, 0x00, 0x0b)...) // bodies
	return m
}

func TestABIVersionRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.wasm")
	if err := os.WriteFile(path, fakeModule(7), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := wasm.Open(path, wasm.Capabilities{}, wasm.Options{CacheDir: "-"})
	if !errors.Is(err, wasm.ErrABIVersion) || !strings.Contains(err.Error(), "plugin ABI 7, this Conveyor speaks 1") ||
		!strings.Contains(err.Error(), path) {
		t.Fatalf("got %v", err)
	}
	// The same module speaking version 1 gets past the check (and fails
	// later: it describes nothing).
	if err := os.WriteFile(path, fakeModule(wasm.ABIVersion), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = wasm.Open(path, wasm.Capabilities{}, wasm.Options{CacheDir: "-"}); err == nil || errors.Is(err, wasm.ErrABIVersion) {
		t.Fatalf("version 1: %v", err)
	}
}
