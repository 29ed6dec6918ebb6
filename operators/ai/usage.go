package ai

import (
	"maps"
	"sync"
)

// UsageCounts are the provider calls and tokens of ai.generate stages.
type UsageCounts struct {
	// Calls counts answered calls (HTTP successes, retries of a call for
	// invalid JSON included); Failed counts calls that finally failed.
	Calls, Failed int64
	// CacheHits counts rows answered from cache_dir, or by a call another
	// row with the same prompt had in flight, without a call of their own.
	CacheHits int64
	// InputTokens and OutputTokens add up the usage the providers
	// reported (estimated at 4 bytes per token for answers without usage).
	InputTokens, OutputTokens int64
}

func (u *UsageCounts) add(o UsageCounts) {
	u.Calls += o.Calls
	u.Failed += o.Failed
	u.CacheHits += o.CacheHits
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
}

var usage = struct {
	sync.Mutex
	byProvider map[string]UsageCounts
}{byProvider: map[string]UsageCounts{}}

// recordUsage adds o to the process-wide counts of a provider.
func recordUsage(provider string, o UsageCounts) {
	usage.Lock()
	u := usage.byProvider[provider]
	u.add(o)
	usage.byProvider[provider] = u
	usage.Unlock()
}

// Usage returns, by provider name, the counts of every ai.generate stage
// that ran in this process since it started or since the last ResetUsage.
// Counts are added as calls complete, so a failed run is counted too.
// The CLI shows them in the run summary.
func Usage() map[string]UsageCounts {
	usage.Lock()
	defer usage.Unlock()
	return maps.Clone(usage.byProvider)
}

// ResetUsage sets every count back to zero (call it before a run whose
// usage is to be reported alone).
func ResetUsage() {
	usage.Lock()
	clear(usage.byProvider)
	usage.Unlock()
}
