package discard

import (
	"testing"

	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestExamples(t *testing.T) { spectest.RunAll(t, Spec()) }
