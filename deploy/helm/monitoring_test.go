package helm

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// The files of deploy/monitoring the chart installs (through its
// monitoring symlink).
const (
	alertsFile    = "../monitoring/fedsaga-alerts.yaml"
	dashboardFile = "../monitoring/fedsaga-dashboard.json"
)

// PrometheusRule is the Prometheus Operator's monitoring.coreos.com/v1
// PrometheusRule
// (https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.PrometheusRule).
type PrometheusRule struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	ObjectMeta ObjectMeta `json:"metadata"`
	Spec       RuleSpec   `json:"spec"`
}

// RuleSpec is the spec of a PrometheusRule, which is also the layout of a
// Prometheus rules file.
type RuleSpec struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert       string            `json:"alert,omitempty"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

// checkMonitoring: with prometheusRule and grafanaDashboard on (all or
// nothing in the renderings), a PrometheusRule holding the rules of
// deploy/monitoring and a ConfigMap holding its dashboard, valid JSON,
// labelled for Grafana's sidecar; with them off (the default), neither.
func checkMonitoring(t *testing.T, objs *objects, on bool) {
	t.Helper()
	dash := objs.configMaps["fedsaga-dashboard"]
	if !on {
		if len(objs.rules) > 0 || dash != nil {
			t.Errorf("prometheusRule and grafanaDashboard are off, yet the chart makes %d PrometheusRule(s) and dashboard %v", len(objs.rules), dash != nil)
		}
		return
	}
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var want RuleSpec
	if err := yaml.UnmarshalStrict(b, &want); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	if len(objs.rules) != 1 || !reflect.DeepEqual(objs.rules[0].Spec, want) || len(want.Groups) == 0 {
		t.Errorf("want one PrometheusRule with the rules of %s; got %d", alertsFile, len(objs.rules))
	}
	if dash == nil {
		t.Fatalf("no dashboard ConfigMap fedsaga-dashboard")
	}
	if dash.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v: want grafana_dashboard=1 for Grafana's sidecar", dash.Labels)
	}
	file, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	got := dash.Data["fedsaga-dashboard.json"]
	var v map[string]any
	if err := json.Unmarshal([]byte(got), &v); err != nil || v["uid"] != "fedsaga" {
		t.Errorf("dashboard in the ConfigMap: %v, uid %v", err, v["uid"])
	}
	if got != string(file) && got+"\n" != string(file) {
		t.Errorf("the ConfigMap's dashboard differs from %s", dashboardFile)
	}
}
