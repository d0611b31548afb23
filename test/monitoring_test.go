package test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/fedsaga/fedsaga/config"
)

// The dashboard and the alert rules of deploy/monitoring.
const (
	dashboardFile = "../deploy/monitoring/fedsaga-dashboard.json"
	rulesFile     = "../deploy/monitoring/fedsaga-alerts.yaml"
)

// metricName finds the fedsaga and Temporal metric names in a PromQL
// expression.
var metricName = regexp.MustCompile(`\b(?:fedsaga|temporal)_[a-zA-Z0-9_]+\b`)

// monitoringExprs are the PromQL expressions of the dashboard (targets and
// template variables) and the rules, each with where it is.
func monitoringExprs(t *testing.T) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("%s: panel id %d used twice", dashboardFile, p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", dashboardFile, p.Title)
		}
		for i, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: panel %q, target %d has no expr", dashboardFile, p.Title, i)
			}
			exprs[tg.Expr] = "dashboard panel " + p.Title
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			exprs[q["query"].(string)] = "dashboard variable " + v.Name
		}
	}
	b, err = os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Expr] = "alert " + r.Alert
		}
	}
	return exprs
}

// checkMonitoring checks that every metric the dashboard and the rules use
// is in m, the /metrics of a worker that ran sagas of every outcome (a
// histogram by its _bucket, _count or _sum series).
func checkMonitoring(t *testing.T, m scrape) {
	t.Helper()
	for expr, where := range monitoringExprs(t) {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: %q uses no fedsaga or Temporal metric", where, expr)
		}
		for _, name := range names {
			if m[name] != nil {
				continue
			}
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				base = strings.TrimSuffix(base, suffix)
			}
			if fam := m[base]; fam != nil && fam.GetType() == dto.MetricType_HISTOGRAM {
				continue
			}
			// Each mode feeds one of the activity panels' two series:
			// fast mode runs no regular activity, regular mode no local one.
			unused := "temporal_local_activity_"
			if stack.Config.Saga.Mode == config.ModeLocal {
				unused = "temporal_activity_"
			}
			if strings.HasPrefix(base, unused) {
				continue
			}
			t.Errorf("%s uses %s, which the worker does not export", where, name)
		}
	}
}
