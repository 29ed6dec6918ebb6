package flow

import (
	"regexp"
	"strings"
)

// lineIndex remembers where keys appear in a pipeline file, so validation
// errors can name a line. The TOML decoder does not expose key positions,
// and keys inside [[stages]] repeat, so the file is scanned once here:
// good enough for the `key = value` and `[table]` forms people write.
type lineIndex struct {
	// top maps "section.key" (e.g. "global.batch_size") to a line.
	top map[string]int
	// stages[i] maps "key" or "config.key" of the i-th [[stages]] to a line;
	// "" is the [[stages]] header.
	stages []map[string]int
	// order[i] maps a config sub-table ("config" or "config.columns") to
	// its keys in file order.
	order []map[string][]string
}

var (
	reHeader = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?`)
	reKey    = regexp.MustCompile(`^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-]+)\s*=`)
)

func indexLines(src []byte) *lineIndex {
	ix := &lineIndex{top: map[string]int{}}
	section, stage := "", -1
	for n, line := range strings.Split(string(src), "\n") {
		lineNo := n + 1
		if m := reHeader.FindStringSubmatch(line); m != nil && !reKey.MatchString(line) {
			name := unquoteKey(m[1])
			isArray := strings.HasPrefix(strings.TrimSpace(line), "[[")
			switch {
			case name == "stages" && isArray:
				stage++
				ix.stages = append(ix.stages, map[string]int{"": lineNo})
				ix.order = append(ix.order, map[string][]string{})
				section = "stages"
			case strings.HasPrefix(name, "stages.") && stage >= 0:
				section = name
				ix.stages[stage][strings.TrimPrefix(name, "stages.")] = lineNo
			default:
				section = name
				ix.top[name] = lineNo
			}
			continue
		}
		m := reKey.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := unquoteKey(m[1])
		if section == "stages" || strings.HasPrefix(section, "stages.") {
			if stage < 0 {
				continue
			}
			sub := strings.TrimPrefix(strings.TrimPrefix(section, "stages"), ".")
			full := key
			if sub != "" {
				full = sub + "." + key
			}
			if _, seen := ix.stages[stage][full]; !seen {
				ix.stages[stage][full] = lineNo
			}
			if sub != "" {
				ix.order[stage][sub] = append(ix.order[stage][sub], key)
			}
			continue
		}
		full := key
		if section != "" {
			full = section + "." + key
		}
		if _, seen := ix.top[full]; !seen {
			ix.top[full] = lineNo
		}
	}
	return ix
}

func unquoteKey(k string) string {
	k = strings.TrimSpace(k)
	if len(k) >= 2 && (k[0] == '"' || k[0] == '\'') {
		return k[1 : len(k)-1]
	}
	return k
}

// stageLine returns the line of key in stage i, falling back to the stage's
// header line.
func (ix *lineIndex) stageLine(i int, key string) int {
	if ix == nil || i < 0 || i >= len(ix.stages) {
		return 0
	}
	if key != "" {
		if l, ok := ix.stages[i][key]; ok {
			return l
		}
		if l, ok := ix.stages[i]["config."+key]; ok {
			return l
		}
	}
	return ix.stages[i][""]
}

func (ix *lineIndex) topLine(key string) int {
	if ix == nil {
		return 0
	}
	if l, ok := ix.top[key]; ok {
		return l
	}
	if i := strings.LastIndex(key, "."); i > 0 {
		return ix.top[key[:i]]
	}
	return 0
}
