package worker

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

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

// Options are the Temporal worker options of the configuration.
func Options(cfg config.Worker) tworker.Options {
	opts := tworker.Options{
		WorkerStopTimeout: cfg.StopTimeout,
		Interceptors:      []interceptor.WorkerInterceptor{saga.NewInterceptor()},
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
