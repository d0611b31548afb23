package worker

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/internal/buildinfo"
	"github.com/fedsaga/fedsaga/workflows"
	"github.com/fedsaga/fedsaga/workflows/saga"
)

// SearchAttributes are the Keyword search attributes fedsaga's sagas keep
// current, for the Web UI and `fedsaga saga list`.
var SearchAttributes = []string{
	saga.SagaStatus.GetName(),
	saga.SagaStep.GetName(),
	workflows.OrderIDKey.GetName(),
	workflows.CustomerIDKey.GetName(),
}

// EnsureSearchAttributes checks fedsaga's search attributes in the
// namespace. With manage (temporal.manage_search_attributes) it registers
// the missing ones and returns their names; without, a missing one is an
// error. An attribute of another type than Keyword is always an error: a
// search attribute cannot change its type. Errors about attributes are a
// *SearchAttributeError, which holds the commands that fix them.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string, manage bool) ([]string, error) {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("temporal: list search attributes of namespace %s: %w", namespace, err)
	}
	problem := &SearchAttributeError{Namespace: namespace, WrongType: map[string]enums.IndexedValueType{}}
	for _, name := range SearchAttributes {
		typ, ok := have.GetCustomAttributes()[name]
		switch {
		case !ok:
			problem.Missing = append(problem.Missing, name)
		case typ != enums.INDEXED_VALUE_TYPE_KEYWORD:
			problem.WrongType[name] = typ
		}
	}
	switch {
	case len(problem.Missing) == 0 && len(problem.WrongType) == 0:
		return nil, nil
	case !manage || len(problem.WrongType) > 0:
		problem.Managed = manage
		return nil, problem
	}
	missing := map[string]enums.IndexedValueType{}
	for _, name := range problem.Missing {
		missing[name] = enums.INDEXED_VALUE_TYPE_KEYWORD
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if err != nil {
		return nil, fmt.Errorf("temporal: register search attributes %v in namespace %s: %w; "+
			"if the worker may not (Temporal Cloud, an authorizer), set temporal.manage_search_attributes = false "+
			"and create them once with: %s", problem.Missing, namespace, err, strings.Join(problem.Commands(), "; "))
	}
	return problem.Missing, nil
}

// SearchAttributeError is a namespace that lacks fedsaga's search
// attributes (while temporal.manage_search_attributes is false) or has one
// of another type than Keyword.
type SearchAttributeError struct {
	Namespace string
	Missing   []string                          // in the order of SearchAttributes
	WrongType map[string]enums.IndexedValueType // the type the namespace has, by name
	Managed   bool                              // temporal.manage_search_attributes
}

func (e *SearchAttributeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "temporal: namespace %s", e.Namespace)
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, " lacks the search attributes %s (temporal.manage_search_attributes is %v)", strings.Join(e.Missing, ", "), e.Managed)
	}
	for i, name := range slices.Sorted(maps.Keys(e.WrongType)) {
		if i == 0 && len(e.Missing) > 0 {
			b.WriteString(" and")
		} else if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " has %s of type %s, not Keyword", name, e.WrongType[name])
	}
	if len(e.WrongType) > 0 {
		b.WriteString(" (a search attribute cannot change its type)")
	}
	b.WriteString("; run once, with the rights to:")
	for _, cmd := range e.Commands() {
		b.WriteString("\n  " + cmd)
	}
	return b.String()
}

// Commands are the Temporal CLI commands that fix the namespace: remove
// each attribute of the wrong type, then create each missing or removed one.
func (e *SearchAttributeError) Commands() []string {
	var cmds []string
	wrong := slices.Sorted(maps.Keys(e.WrongType))
	for _, name := range wrong {
		cmds = append(cmds, fmt.Sprintf("temporal operator search-attribute remove --namespace %s --name %s --yes", e.Namespace, name))
	}
	for _, name := range append(slices.Clone(e.Missing), wrong...) {
		cmds = append(cmds, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type Keyword", e.Namespace, name))
	}
	return cmds
}

// Settings are the saga settings of the configuration.
func Settings(cfg config.Saga, events config.Events) workflows.Settings {
	return workflows.Settings{
		PublishTimeout:       events.PublishTimeout,
		Timeout:              cfg.Timeout,
		CompensationTimeout:  cfg.CompensationTimeout,
		LocalActivities:      cfg.Mode == config.ModeLocal,
		AllLocal:             cfg.Mode == config.ModeLocal,
		ParallelCompensation: cfg.ParallelCompensation,
		ContinueWithError:    cfg.ContinueWithError,
	}
}

// Options are the Temporal worker options of the configuration: the slots
// and the poller autoscaling's maximums of [worker] (a slot count of 0, as in
// a Config that Load did not derive, leaves the SDK's default).
func Options(cfg config.Worker) tworker.Options {
	pollers := func(most int) tworker.PollerBehavior {
		return tworker.NewPollerBehaviorAutoscaling(tworker.PollerBehaviorAutoscalingOptions{MaximumNumberOfPollers: most})
	}
	opts := tworker.Options{
		WorkerStopTimeout:                       cfg.StopTimeout,
		Interceptors:                            []interceptor.WorkerInterceptor{saga.NewInterceptor()},
		MaxConcurrentActivityExecutionSize:      cfg.MaxConcurrentActivities,
		MaxConcurrentLocalActivityExecutionSize: cfg.MaxConcurrentLocalActivities,
		MaxConcurrentWorkflowTaskExecutionSize:  cfg.MaxConcurrentWorkflowTasks,
		WorkflowTaskPollerBehavior:              pollers(cfg.WorkflowTaskPollers),
		ActivityTaskPollerBehavior:              pollers(cfg.ActivityTaskPollers),
	}
	if cfg.DeploymentName != "" {
		opts.DeploymentOptions = tworker.DeploymentOptions{
			UseVersioning: true,
			Version: tworker.WorkerDeploymentVersion{
				DeploymentName: cfg.DeploymentName,
				// Unset, the build ID is the binary's version, so each
				// release is its own Worker Deployment Version.
				BuildID: cmp.Or(cfg.BuildID, buildinfo.Version()),
			},
			// A running saga moves to the new version's code when it is
			// made current; replay tests guard that the code stays
			// compatible with recorded histories.
			DefaultVersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
		}
	}
	return opts
}

// slotsOverPool is how many times the smallest saga pool the activity slots
// may be before the worker warns: past it, most activities of a burst wait
// for a connection and risk PoolExhaustedError.
const slotsOverPool = 4

// warnSlots logs a warning for each activity slot setting of cfg that
// exceeds the smallest pool of the saga's databases slotsOverPool times.
func warnSlots(cfg *config.Config, logger zerolog.Logger) {
	pool := cfg.SagaPoolSize()
	for key, slots := range map[string]int{
		"worker.max_concurrent_activities":       cfg.Worker.MaxConcurrentActivities,
		"worker.max_concurrent_local_activities": cfg.Worker.MaxConcurrentLocalActivities,
	} {
		if pool > 0 && slots > slotsOverPool*pool {
			logger.Warn().Str("key", key).Int("slots", slots).Int("pool_size", pool).
				Msgf("%s is more than %d times the smallest pool_size of the saga's databases: "+
					"activities beyond the pool wait for a connection and fail with PoolExhaustedError after pool_timeout; "+
					"raise pool_size or lower the slots (see README, Sizing the worker)", key, slotsOverPool)
		}
	}
}
