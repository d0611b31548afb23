package saga

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Search attributes the engine keeps current (Keyword): register them in
// the namespace.
var (
	SagaStatus = temporal.NewSearchAttributeKeyKeyword("SagaStatus")
	SagaStep   = temporal.NewSearchAttributeKeyKeyword("SagaStep")
)

// started takes the SagaStatus and SagaStep the workflow was started with
// as upserted already.
func (s *Saga) started(ctx workflow.Context) {
	sa := workflow.GetTypedSearchAttributes(ctx)
	s.published[0], _ = sa.GetKeyword(SagaStatus)
	s.published[1], _ = sa.GetKeyword(SagaStep)
}

func (s *Saga) setStatus(ctx workflow.Context, status, details string) {
	s.state.Status = status
	s.state.UpdatedAt = workflow.Now(ctx)
	s.publish(ctx)
	if details != "" {
		workflow.SetCurrentDetails(ctx, details)
	}
}

// publish upserts SagaStatus, with SagaStep the step at that moment, when
// the status changed: each upsert costs a visibility write, and a happy
// saga needs two. The step in progress is in the details and the state.
func (s *Saga) publish(ctx workflow.Context) {
	if s.state.Status == s.published[0] {
		return
	}
	updates := []temporal.SearchAttributeUpdate{SagaStatus.ValueSet(s.state.Status)}
	if s.state.Step != "" && s.state.Step != s.published[1] {
		updates = append(updates, SagaStep.ValueSet(s.state.Step))
		s.published[1] = s.state.Step
	}
	if s.published[0] == "" {
		updates = append(updates, s.opts.SearchAttributes...)
	}
	s.published[0] = s.state.Status
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		s.logger.Warn("search attributes not updated", "error", err)
	}
}
