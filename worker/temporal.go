package worker

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/rs/zerolog"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/config"
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

// EnsureSearchAttributes registers the missing search attributes in the
// namespace.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("temporal: list search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enums.IndexedValueType{}
	for _, name := range SearchAttributes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = enums.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if err != nil {
		return nil, fmt.Errorf("temporal: register search attributes %v in namespace %s: %w", slices.Sorted(maps.Keys(missing)), namespace, err)
	}
	return slices.Sorted(maps.Keys(missing)), nil
}

// Settings are the saga settings of the configuration.
func Settings(cfg config.Saga, events config.Events) workflows.Settings {
	return workflows.Settings{
		PublishTimeout:       events.PublishTimeout,
		Timeout:              cfg.Timeout,
		CompensationTimeout:  cfg.CompensationTimeout,
		LocalActivities:      cfg.Mode == config.ModeLocal,
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
				BuildID:        cfg.BuildID,
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
