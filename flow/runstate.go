package flow

// Started reports whether every stage of the run has begun (for readiness
// probes).
func (r *Runner) Started() bool {
	for _, st := range r.stages {
		if st.metrics.started.Load() == 0 {
			return false
		}
	}
	return len(r.stages) > 0
}

// Draining reports whether Drain was called.
func (r *Runner) Draining() bool {
	select {
	case <-r.drainCh:
		return true
	default:
		return false
	}
}

// Finished reports whether every stage of the run has returned.
func (r *Runner) Finished() bool {
	for _, st := range r.stages {
		if st.metrics.finished.Load() == 0 {
			return false
		}
	}
	return len(r.stages) > 0
}
