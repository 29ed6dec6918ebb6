package pipetest

import (
	"regexp"
	"strings"
)

// lineIndex remembers where keys and rows appear in a test file, so that
// problems name a line. The TOML decoder does not expose positions, so the
// text is scanned once; it understands the forms people write: `key =
// value`, dotted keys, [tables], [[arrays of tables]], multi-line strings
// and multi-line arrays of inline tables.
type lineIndex struct {
	// top maps a key outside any [[case]] ("pipeline", "now") to a line.
	top map[string]int
	// cases[i] maps a key path inside the i-th [[case]] ("name",
	// "input.load.rows", "expect.save") to its first line; "" is the
	// [[case]] header.
	cases []map[string]int
	// rows[i] maps the path of a rows array in case i to the line of
	// each of its rows (inline tables or [[...rows]] headers).
	rows []map[string][]int
}

var (
	reHeaderLine = regexp.MustCompile(`^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$`)
	reKeyLine    = regexp.MustCompile(`^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=\s*(.*)$`)
)

// splitKey splits a dotted TOML key into its unquoted parts.
func splitKey(k string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

func indexLines(src []byte) *lineIndex {
	ix := &lineIndex{top: map[string]int{}}
	caseIdx := -1
	section := ""   // path inside the current case (or top-level table)
	inCase := false // the current table is [[case]] or below it
	multi := ""     // the delimiter of an open multi-line string
	arrayPath := "" // a rows array being scanned
	depthSq, depthBr := 0, 0
	set := func(path string, line int) {
		if inCase && caseIdx >= 0 {
			if _, ok := ix.cases[caseIdx][path]; !ok {
				ix.cases[caseIdx][path] = line
			}
			return
		}
		if _, ok := ix.top[path]; !ok {
			ix.top[path] = line
		}
	}
	addRow := func(path string, line int) {
		if inCase && caseIdx >= 0 {
			ix.rows[caseIdx][path] = append(ix.rows[caseIdx][path], line)
		}
	}
	// scanArray follows the brackets of a multi-line array value, noting
	// the line of every inline table at its top level.
	scanArray := func(text string, line int) {
		q := byte(0)
		for i := 0; i < len(text) && arrayPath != ""; i++ {
			c := text[i]
			if q != 0 {
				if c == '\\' && q == '"' {
					i++
				} else if c == q {
					q = 0
				}
				continue
			}
			switch c {
			case '"', '\'':
				q = c
			case '#':
				return
			case '[':
				depthSq++
			case ']':
				depthSq--
				if depthSq == 0 {
					arrayPath = ""
				}
			case '{':
				if depthSq == 1 && depthBr == 0 {
					addRow(arrayPath, line)
				}
				depthBr++
			case '}':
				depthBr--
			}
		}
	}
	for n, text := range strings.Split(string(src), "\n") {
		line := n + 1
		if multi != "" {
			if strings.Count(text, multi)%2 == 1 {
				multi = ""
			}
			continue
		}
		if arrayPath != "" {
			scanArray(text, line)
			continue
		}
		if m := reKeyLine.FindStringSubmatch(text); m != nil {
			path := strings.Join(splitKey(m[1]), ".")
			if section != "" {
				path = section + "." + path
			}
			set(path, line)
			value := strings.TrimSpace(m[2])
			for _, d := range []string{`"""`, `'''`} {
				if strings.Count(value, d)%2 == 1 {
					multi = d
				}
			}
			if strings.HasPrefix(value, "[") {
				arrayPath, depthSq, depthBr = path, 0, 0
				scanArray(value, line)
			}
			continue
		}
		if m := reHeaderLine.FindStringSubmatch(text); m != nil {
			parts := splitKey(m[2])
			isArray := m[1] == "[["
			if parts[0] != "case" {
				inCase = false
				section = strings.Join(parts, ".")
				set(section, line)
				continue
			}
			inCase = true
			if len(parts) == 1 && isArray {
				caseIdx++
				ix.cases = append(ix.cases, map[string]int{"": line})
				ix.rows = append(ix.rows, map[string][]int{})
				section = ""
				continue
			}
			section = strings.Join(parts[1:], ".")
			set(section, line)
			if isArray {
				addRow(section, line)
			}
		}
	}
	return ix
}

// caseLine returns the line of key (a dotted path) in case i, falling back
// to its closest parent key, then to the case's header.
func (ix *lineIndex) caseLine(i int, key string) int {
	if i < 0 || i >= len(ix.cases) {
		return ix.topLine(key)
	}
	for k := key; k != ""; {
		if l, ok := ix.cases[i][k]; ok {
			return l
		}
		j := strings.LastIndex(k, ".")
		if j < 0 {
			break
		}
		k = k[:j]
	}
	return ix.cases[i][""]
}

func (ix *lineIndex) topLine(key string) int { return ix.top[key] }

// rowLine returns the line of row r of the rows array at path in case i.
func (ix *lineIndex) rowLine(i int, path string, r int) int {
	if i >= 0 && i < len(ix.rows) {
		if ls := ix.rows[i][path]; r < len(ls) {
			return ls[r]
		}
	}
	return ix.caseLine(i, path)
}
