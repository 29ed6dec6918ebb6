package batch

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"
)

// slowParse is ParseObject without the fast path.
func slowParse(text []byte) (map[string]any, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	m, keys, err := DecodeObject(dec)
	if err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, io.ErrUnexpectedEOF
	}
	return m, keys, nil
}

var fastSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+10,"b":"x","c":true,"d":false,"e":null}`,
	`{"s":"tab\tnl\\n \"q\" \u00e9 \ud83d\ude00 \/"}`, `{"n":{"x":[1, 2,{"y" : "z"}]},"l":[ ]}`,
	`{"dup":1,"k":2,"dup":3}`, `{"u":"héllo wörld"}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
	`{"a":"\x01"}`, `{"a":tru}`, `{"a":1,}`, `{"a" 1}`, `[1,2]`, `{"a":1} x`, `{"a":"\ud800"}`,
	`{"a":"\ud800\u0041"}`, `{"a":[1,}`, `{"a":"unterminated}`, `{"a":1e}`, `{"a":"\q"}`, "{\"a\":\"\xff\"}",
}

func checkFast(t *testing.T, text []byte) {
	fm, fk, ok := parseObjectFast(text)
	sm, sk, err := slowParse(text)
	if !ok {
		return // the fallback decides
	}
	if err != nil {
		t.Fatalf("%q: fast path accepted what encoding/json rejects (%v)", text, err)
	}
	if !reflect.DeepEqual(fm, sm) || !reflect.DeepEqual(fk, sk) {
		t.Fatalf("%q: fast %v %v, slow %v %v", text, fm, fk, sm, sk)
	}
}

func TestParseObjectFastAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range fastSeeds {
		checkFast(t, []byte(s))
	}
	if _, _, ok := parseObjectFast([]byte(`{"a":1,"b":"x"}`)); !ok {
		t.Error("the fast path does not take a plain object")
	}
}

func FuzzParseObjectFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) { checkFast(t, text) })
}
