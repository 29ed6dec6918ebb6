package expr

import (
	"bytes"
	"regexp"
	"strings"
)

// likeNode is "x like pattern": % matches any run of characters, _ one
// character; the whole string must match. Prefix, suffix, infix and exact
// patterns are matched without regular expressions.
type likeNode struct {
	x    node
	kind byte // '=', 'p' prefix, 's' suffix, 'c' contains, 'r' regexp
	lit  []byte
	re   *regexp.Regexp
	out  vec
	buf  bufs
}

func newLikeNode(x node, pat string) *likeNode {
	n := &likeNode{x: x}
	inner := strings.Trim(pat, "%")
	simple := !strings.ContainsAny(inner, "%_")
	switch {
	case simple && !strings.Contains(pat, "_") && pat == inner:
		n.kind, n.lit = '=', []byte(pat)
	case simple && strings.HasSuffix(pat, "%") && !strings.HasPrefix(pat, "%"):
		n.kind, n.lit = 'p', []byte(inner)
	case simple && strings.HasPrefix(pat, "%") && !strings.HasSuffix(pat, "%"):
		n.kind, n.lit = 's', []byte(inner)
	case simple && strings.HasPrefix(pat, "%") && strings.HasSuffix(pat, "%"):
		n.kind, n.lit = 'c', []byte(inner)
	default:
		var sb strings.Builder
		sb.WriteString(`(?s)\A`)
		for _, r := range pat {
			switch r {
			case '%':
				sb.WriteString(".*")
			case '_':
				sb.WriteString(".")
			default:
				sb.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		sb.WriteString(`\z`)
		n.kind, n.re = 'r', regexp.MustCompile(sb.String())
	}
	return n
}

func (n *likeNode) typ() Type    { return Bool }
func (n *likeNode) kids() []node { return []node{n.x} }

func (n *likeNode) match(s []byte) bool {
	switch n.kind {
	case '=':
		return bytes.Equal(s, n.lit)
	case 'p':
		return bytes.HasPrefix(s, n.lit)
	case 's':
		return bytes.HasSuffix(s, n.lit)
	case 'c':
		return bytes.Contains(s, n.lit)
	}
	return n.re.Match(s)
}

func (n *likeNode) eval(c *ctx) (*vec, error) {
	a, err := n.x.eval(c)
	if err != nil || a.isNull() {
		return nullVec, err
	}
	rows, scalar := rowsFor(c, a)
	n.buf.b = growBytes(n.buf.b, bitmapBytes(rows))
	fillBits(n.buf.b, 0, len(n.buf.b))
	for k := 0; k < rows; k++ {
		if n.match(a.str(k)) {
			setBit(n.buf.b, k)
		}
	}
	n.out = vec{scalar: scalar, b: n.buf.b, valid: a.valid}
	return &n.out, nil
}
