package generate

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExamples(t *testing.T) { spectest.RunAll(t, Spec()) }
