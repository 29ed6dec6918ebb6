package convert

// jsonValidator checks JSON text as encoding/json.Valid does (RFC 8259
// grammar; like encoding/json it does not check UTF-8), without a
// per-byte state function call. It keeps its container stack between
// calls; it is not safe for concurrent use.
type jsonValidator struct {
	stack []byte
}

func (v *jsonValidator) valid(d []byte) bool {
	stack := v.stack[:0]
	defer func() { v.stack = stack[:0] }()
	n := len(d)
	i := skipWS(d, 0)
	for {
		// A value starts at d[i].
		if i >= n {
			return false
		}
		switch c := d[i]; {
		case c == '{':
			i = skipWS(d, i+1)
			if i < n && d[i] == '}' {
				i++
				break
			}
			stack = append(stack, '{')
			var ok bool
			if i, ok = objectKey(d, i); !ok {
				return false
			}
			continue
		case c == '[':
			i = skipWS(d, i+1)
			if i < n && d[i] == ']' {
				i++
				break
			}
			stack = append(stack, '[')
			continue
		case c == '"':
			var ok bool
			if i, ok = validString(d, i); !ok {
				return false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			var ok bool
			if i, ok = validNumber(d, i); !ok {
				return false
			}
		case c == 't':
			if !hasLiteral(d, i, "true") {
				return false
			}
			i += 4
		case c == 'f':
			if !hasLiteral(d, i, "false") {
				return false
			}
			i += 5
		case c == 'n':
			if !hasLiteral(d, i, "null") {
				return false
			}
			i += 4
		default:
			return false
		}
		// After a value: close containers or go to the next element.
		for {
			i = skipWS(d, i)
			if len(stack) == 0 {
				return i == n
			}
			if i >= n {
				return false
			}
			top := stack[len(stack)-1]
			c := d[i]
			if c == ',' {
				i = skipWS(d, i+1)
				if top == '{' {
					var ok bool
					if i, ok = objectKey(d, i); !ok {
						return false
					}
				}
				break
			}
			if (top == '{' && c == '}') || (top == '[' && c == ']') {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			return false
		}
	}
}

// objectKey checks `"key" :` at d[i] and returns the index of the value.
func objectKey(d []byte, i int) (int, bool) {
	if i >= len(d) || d[i] != '"' {
		return i, false
	}
	i, ok := validString(d, i)
	if !ok {
		return i, false
	}
	i = skipWS(d, i)
	if i >= len(d) || d[i] != ':' {
		return i, false
	}
	return skipWS(d, i+1), true
}

func hasLiteral(d []byte, i int, lit string) bool {
	return len(d)-i >= len(lit) && string(d[i:i+len(lit)]) == lit
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// validString checks the string at d[i] ('"') and returns the index past it.
func validString(d []byte, i int) (int, bool) {
	n := len(d)
	i++
	for i < n {
		c := d[i]
		switch {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= n {
				return i, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > n || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					return i, false
				}
				i += 6
			default:
				return i, false
			}
		case c < 0x20:
			return i, false
		default:
			i++
		}
	}
	return i, false
}

// validNumber checks the number at d[i] and returns the index past it.
func validNumber(d []byte, i int) (int, bool) {
	n := len(d)
	if d[i] == '-' {
		i++
	}
	if i >= n {
		return i, false
	}
	switch {
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		for i < n && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return i, false
	}
	if i < n && d[i] == '.' {
		i++
		s := i
		for i < n && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == s {
			return i, false
		}
	}
	if i < n && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < n && (d[i] == '+' || d[i] == '-') {
			i++
		}
		s := i
		for i < n && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == s {
			return i, false
		}
	}
	return i, true
}
