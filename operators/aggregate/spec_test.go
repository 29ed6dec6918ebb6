package aggregate

import (
	"testing"

	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestExamples(t *testing.T) {
	spectest.RunAll(t, GroupBySpec())
	spectest.RunAll(t, ReduceSpec())
	spectest.RunAll(t, DistinctSpec())
}
