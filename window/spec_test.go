package window

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestApplyExamples(t *testing.T)  { spectest.RunAll(t, ApplySpec()) }
func TestStreamExamples(t *testing.T) { spectest.RunAll(t, StreamSpec()) }
