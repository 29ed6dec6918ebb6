package expr

import "github.com/conveyor-etl/conveyor/flow"

func registerFuncs() {}

func nearestName(s string, names []string) string { return flow.Nearest(s, names) }
