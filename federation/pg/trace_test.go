package pg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
)

// TestStatementsLoggedWithoutParameters: at debug level (FEDSAGA_LOG=debug)
// every statement is logged with its database, duration and rows, never a
// parameter value; at info level only with log_queries.
func TestStatementsLoggedWithoutParameters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		level      zerolog.Level
		logQueries bool
		want       bool
	}{
		{"debug level", zerolog.DebugLevel, false, true},
		{"info level", zerolog.InfoLevel, false, false},
		{"info level, log_queries", zerolog.InfoLevel, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer // written by the tracer on the querying goroutine
			db := open(t, zerolog.New(&logs).Level(tc.level), func(c *config.Database) { c.LogQueries = tc.logQueries })
			ctx := context.Background()
			exec(t, db, `CREATE TABLE secrets (v text)`)
			if _, err := db.Pool().Exec(ctx, `INSERT INTO secrets SELECT $1::text FROM generate_series(1, 3)`, "s3cret-param"); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM secrets WHERE v = $1`, "s3cret-param").Scan(&n); err != nil || n != 3 {
				t.Fatalf("count = %d, %v", n, err)
			}
			if strings.Contains(logs.String(), "s3cret-param") {
				t.Errorf("a parameter value is logged:\n%s", logs.String())
			}
			var lines []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if l != "" && json.Unmarshal([]byte(l), &m) == nil && m["message"] == "query" {
					lines = append(lines, m)
				}
			}
			if !tc.want {
				if len(lines) != 0 {
					t.Errorf("statements logged: %v", lines)
				}
				return
			}
			insert := find(lines, "INSERT INTO secrets")
			if insert == nil || insert["database"] != "scratch" || insert["rows"] != 3.0 || insert["duration"] == nil {
				t.Errorf("INSERT logged as %v, want database scratch, 3 rows and a duration; all: %v", insert, lines)
			}
			if sel := find(lines, "SELECT count(*)"); sel == nil || sel["rows"] != 1.0 {
				t.Errorf("SELECT logged as %v, want 1 row", sel)
			}
		})
	}
}

func find(lines []map[string]any, sql string) map[string]any {
	for _, l := range lines {
		if s, _ := l["sql"].(string); strings.Contains(s, sql) {
			return l
		}
	}
	return nil
}
