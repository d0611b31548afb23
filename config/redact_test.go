package config

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// leaks are connection strings that pgx (or, for nats://, Go's URL parser)
// accepts, each with the password it reads in them.
var leaks = []struct{ url, password string }{
	{"postgres://u:2024#s3cretpw@host/db", "2024#s3cretpw"},
	{"postgres://u:2024#s3cretpw@host:5432/db?sslmode=disable", "2024#s3cretpw"},
	{"postgresql://u:2024?s3cretpw@host/db", "2024?s3cretpw"},
	{"postgres://u:2024#s3cr/etpw@host/db", ""}, // pgx refuses its port "2024#s3cr"
	{"postgres://u:s3cret:pw@host/db", "s3cret:pw"},
	{"postgres://host/db?sslmode=disable&password=2024#s3cretpw", "2024#s3cretpw"},
	{"postgres://host/db?pass%77ord=s3cretpw&sslmode=disable", "s3cretpw"},
	{"postgres://u:s3cretpw@host/db?application_name=s3cretpw", "s3cretpw"},
	{"postgres://u:s3cr%2Fetpw@host/db?application_name=s3cr/etpw", "s3cr/etpw"},
	{"host=db password=2024#s3cret\\ pw dbname=x", "2024#s3cret pw"},
	{"host=db password='2024 s3cret\\'pw' dbname=x", "2024 s3cret'pw"},
	{"host=db\tpassword\t=\ts3cretpw", "s3cretpw"},
	{"x.y=1 password=s3cretpw", "s3cretpw"},
	{"nats://u:2024#s3cretpw@host:4222", "2024#s3cretpw"},
}

// TestRedactURLHidesWhatPgxReads: the password pgx reads is hidden, however
// it is written; "postgres://u:2024#s3cretpw@host/db" used to be shown whole.
func TestRedactURLHidesWhatPgxReads(t *testing.T) {
	for _, l := range leaks {
		out := RedactURL(l.url)
		if strings.Contains(out, "s3cr") || !strings.Contains(out, redactedText) {
			t.Errorf("RedactURL(%q) = %q, shows the password", l.url, out)
		}
		if strings.HasPrefix(l.url, "nats://") {
			continue
		}
		if pw := pgxPassword(t, l.url); pw != l.password {
			t.Errorf("pgx reads the password of %q as %q, want %q", l.url, pw, l.password)
		}
	}
	// The user name, the host and the database stay visible.
	for in, want := range map[string]string{
		"postgres://u:2024#s3cretpw@host/db":                                   "postgres://u:[REDACTED]@host/db",
		"postgres://u:12/s3cretpw@host/db":                                     "postgres://u:[REDACTED]@host/db",
		"host=db password=s3cretpw dbname=orders":                              "host=db password=[REDACTED] dbname=orders",
		"postgres://app@db/orders?sslmode=verify-full&sslrootcert=/etc/ca.pem": "postgres://app@db/orders?sslmode=verify-full&sslrootcert=/etc/ca.pem",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// pgxPassword returns the password pgx reads in s, "" if it refuses s.
func pgxPassword(t testing.TB, s string) string {
	t.Helper()
	cfg, err := pgconn.ParseConfig(s)
	if err != nil {
		return ""
	}
	return cfg.Password
}

// TestPrintHidesWhatPgxReads: config print, Redacted and RedactText show
// none of the passwords of leaks.
func TestPrintHidesWhatPgxReads(t *testing.T) {
	for _, l := range leaks {
		c := validConfig()
		if strings.HasPrefix(l.url, "nats://") {
			c.NATS.URL = l.url
		} else {
			setDB(c, "orders", func(d *Database) { d.URL = l.url })
		}
		var out bytes.Buffer
		if err := c.Print(&out); err != nil {
			t.Fatal(err)
		}
		driver := fmt.Sprintf("failed to connect to `user=u database=%s`: %s", l.password, url.QueryEscape(l.password))
		for what, text := range map[string]string{
			"Print": out.String(), "Redacted": fmt.Sprint(c.Redacted()), "RedactText": RedactText(driver, l.url),
		} {
			if strings.Contains(text, "s3cr") {
				t.Errorf("%s shows the password of %q:\n%s", what, l.url, text)
			}
		}
	}
}

// TestValidateDatabaseURLAsPgx: a URL is accepted when pgx accepts it and
// refused with the reason, naming the key and never quoting the password.
func TestValidateDatabaseURLAsPgx(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:2024#s3cretpw@host/db":           "",
		"postgres://u:s3cretpw@h1:5432,h2/db":          "",
		"host=h1,h2 port=5432,5433 password=s3cretpw":  "",
		"postgres://u:s3cretpw@host:99999/db":          "the port is not a number from 1 to 65535",
		"postgres://u:s3cretpw@host:0/db":              "the port is not a number from 1 to 65535",
		"postgres://u:s3cretpw@h1:1,h2:s3cretpw/db":    "port 2 is not a number from 1 to 65535",
		"postgres://u:s3cretpw@h1,h2/db?port=1,2,3":    "names 3 ports for 2 hosts",
		"host=db port=s3cretpw password=s3cretpw":      "the port is not a number from 1 to 65535",
		"postgres://u:s3cr etpw@host/db":               "is not a valid postgres:// URL: unexpected spaces found in password",
		"postgres://u:s3cr%zzpw@host/db":               "is not a valid postgres:// URL: invalid percent-encoded token in password",
		"postgres://u@host/d b?password=s3cretpw":      `is not a valid postgres:// URL: unexpected spaces found in "…", use`,
		"postgres://u:12/s3cretpw@host/db":             `holds an "@" after the host`,
		" postgres://u:s3cretpw@host/db":               `must start with "postgres://" or "postgresql://"`,
		"Postgres://u:s3cretpw@host/db":                `must start with "postgres://" or "postgresql://"`,
		"host=db password=s3cretpw\x00":                "is neither a postgres:// URL nor a keyword=value connection string: forbidden NUL byte",
		"host=db pass word=s3cretpw":                   `is neither a postgres:// URL nor a keyword=value connection string: missing "…" in connection info string`,
		"postgresql:///orders?host=/run/pg&port=5433":  "",
		"postgres://[::1]:5432,[::2]:5433/db?sslmode=": "",
	} {
		err := CheckDatabaseURL(in)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckDatabaseURL(%q) = %v, want nil", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CheckDatabaseURL(%q) = %v, want %q", in, err, want)
		case err != nil && strings.Contains(err.Error(), "s3cr"):
			t.Errorf("CheckDatabaseURL(%q) = %v, shows the password", in, err)
		}
	}
	c := validConfig()
	setDB(c, "orders", func(d *Database) { d.URL = "postgres://u:s3cretpw@host:99999/db" })
	if got := errorList(c.Validate()); len(got) != 1 || !strings.HasPrefix(got[0], "config: databases.orders.url: the port is not") {
		t.Errorf("Validate() = %q, want the port named with the key", got)
	}
}

// TestValidateBounds: durations PostgreSQL can hold, page sizes, listen
// addresses and NATS URLs.
func TestValidateBounds(t *testing.T) {
	const ms = "must be a whole number of milliseconds from 1ms to 2147483647ms, as PostgreSQL's statement_timeout (0 would be no timeout), got "
	for name, tt := range map[string]struct {
		change func(c *Config)
		want   string
	}{
		"statement timeout 1ns": {func(c *Config) { setDB(c, "orders", func(d *Database) { d.StatementTimeout = 1 }) },
			"config: databases.orders.statement_timeout: " + ms + "1ns"},
		"statement timeout 1.5ms": {func(c *Config) {
			setDB(c, "orders", func(d *Database) { d.StatementTimeout = 1500 * time.Microsecond })
		},
			"config: databases.orders.statement_timeout: " + ms + "1.5ms"},
		"statement timeout 1ms": {func(c *Config) { setDB(c, "orders", func(d *Database) { d.StatementTimeout = time.Millisecond }) }, ""},
		"statement timeout 25 days": {func(c *Config) { setDB(c, "orders", func(d *Database) { d.StatementTimeout = 25 * 24 * time.Hour }) },
			"config: databases.orders.statement_timeout: " + ms + "600h0m0s"},
		"federated read timeout 999us": {func(c *Config) { c.Federation.DefaultTimeout = 999 * time.Microsecond },
			"config: federation.default_timeout: " + ms + "999µs"},
		"database timeout 1ns": {func(c *Config) { c.Federation.DatabaseTimeouts = map[string]time.Duration{"orders": 1} },
			"config: federation.database_timeouts.orders: " + ms + "1ns"},
		"max page size 10000": {func(c *Config) { c.Federation.MaxPageSize = MaxPageSizeLimit }, ""},
		"max page size 10001": {func(c *Config) { c.Federation.MaxPageSize = MaxPageSizeLimit + 1 },
			"config: federation.max_page_size: must be at most 10000, got 10001"},
		"default page size above max": {func(c *Config) { c.Federation.DefaultPageSize = 1001 },
			"config: federation.default_page_size: must be from 1 to federation.max_page_size (1000), got 1001"},
		"federation http address empty": {func(c *Config) { c.Federation.HTTPAddress = "" },
			`config: federation.http_address: must not be empty (it would listen on a random port); want host:port, e.g. ":8080"`},
		"worker http address empty is off": {func(c *Config) { c.Worker.HTTPAddress = "" }, ""},
		"nats url with a raw #": {func(c *Config) { c.NATS.URL = "nats://u:2024#s3cretpw@host:4222" },
			`config: nats.url: url holds a "#", which would end the URL there; percent-encode it in a user name, password or token (%23)`},
	} {
		c := validConfig()
		tt.change(c)
		got := errorList(c.Validate())
		switch {
		case tt.want == "" && len(got) > 0:
			t.Errorf("%s: Validate() = %q, want nil", name, got)
		case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
			t.Errorf("%s: Validate() =\n  %s\nwant\n  %s", name, strings.Join(got, "\n  "), tt.want)
		}
	}
}

// FuzzRedactURL embeds a password in the URL and keyword/value forms that
// pgx accepts and holds RedactURL, RedactText (a driver's message) and
// config print to hiding it.
func FuzzRedactURL(f *testing.F) {
	for _, l := range leaks {
		f.Add(l.password)
	}
	f.Add("pw@with/every?sep#and&more=x")
	f.Add(`it's a \ back' slash`)
	f.Fuzz(func(t *testing.T, pw string) {
		kvQuoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
		kvBare := strings.NewReplacer(`\`, `\\`, " ", `\ `, "\t", "\\\t", "\n", "\\\n", "\r", "\\\r", "\v", "\\\v", "\f", "\\\f").Replace(pw)
		forms := map[string]string{
			"url":           "postgres://app:" + pw + "@db.example:5432/orders?sslmode=disable",
			"url encoded":   "postgresql://app:" + url.QueryEscape(pw) + "@db.example/orders?sslmode=disable",
			"query":         "postgres://db.example/orders?sslmode=disable&password=" + pw,
			"query encoded": "postgres://db.example/orders?password=" + url.QueryEscape(pw) + "&sslmode=disable",
			"kv quoted":     "host=db.example user=app password=" + kvQuoted + " dbname=orders sslmode=disable",
			"kv bare":       "host=db.example password=" + kvBare + " user=app sslmode=disable",
		}
		for form, s := range forms {
			if len(pw) < minShownSecret || pgxPassword(t, s) != pw || strings.Contains(strings.Replace(s, pw, "", 1), pw) {
				continue // pgx reads another password, or pw is also part of the rest
			}
			driver := fmt.Sprintf("failed to connect to `user=app database=%s`: %s", pw, url.QueryEscape(pw))
			c := validConfig()
			setDB(c, "orders", func(d *Database) { d.URL = s })
			var printed bytes.Buffer
			if err := c.Print(&printed); err != nil {
				t.Fatal(err)
			}
			for what, out := range map[string]string{"RedactURL": RedactURL(s), "RedactText": RedactText(driver, s), "Print": printed.String()} {
				if shown(out, pw) {
					t.Errorf("%s of %s %q shows the password %q:\n%s", what, form, s, pw, out)
				}
			}
		}
		for form, s := range map[string]string{"nats": "nats://user:" + pw + "@nats.example:4222", "nats token": "nats://" + pw + "@nats.example:4222"} {
			u, err := url.Parse(s)
			if err != nil || u.User == nil || len(pw) < minShownSecret || strings.Contains(strings.Replace(s, pw, "", 1), pw) {
				continue
			}
			if got, _ := u.User.Password(); got != pw && u.User.Username() != pw {
				continue
			}
			if out := RedactURL(s); shown(out, pw) {
				t.Errorf("RedactURL of %s %q shows the password %q: %s", form, s, pw, out)
			}
		}
	})
}

// shown reports whether out holds pw as it is, decoded or encoded. The
// redaction text and "$${" (config print's escape of "${") aside.
func shown(out, pw string) bool {
	out = strings.ReplaceAll(out, "$${", "${")
	for _, f := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
		if len(f) >= minShownSecret && strings.Contains(strings.ReplaceAll(out, redactedText, "\x00"), f) && !strings.Contains(redactedText, f) {
			return true
		}
	}
	return false
}

// FuzzExpand: ${NAME} expansion never panics, takes the value as is
// (single pass: a "${" in the value stays), refuses an unset variable, and
// $${ gives back any literal text.
func FuzzExpand(f *testing.F) {
	for _, s := range [][2]string{{"postgres://u:", "@db"}, {"$", "}"}, {"${", "$${"}, {"", ""}, {"a${B", "${C}}"}} {
		f.Add(s[0], s[1], "v${FSFUZZ_SET}$${x}")
	}
	f.Fuzz(func(t *testing.T, a, b, val string) {
		if strings.ContainsRune(val, 0) {
			return
		}
		t.Setenv("FSFUZZ_SET", val)
		os.Unsetenv("FSFUZZ_UNSET")
		escape := func(s string) string { return strings.ReplaceAll(s, "${", "$${") }
		_, _ = expand(a + b) // never panics
		if got, err := expand(escape(a)); got != a || err != nil {
			t.Errorf("expand(%q) = %q, %v, want %q", escape(a), got, err, a)
		}
		if strings.HasSuffix(a, "$") {
			return // "$" then "${" reads as the escape "$${"
		}
		in := escape(a) + "${FSFUZZ_SET}" + escape(b)
		if got, err := expand(in); got != a+val+b || err != nil {
			t.Errorf("expand(%q) = %q, %v, want %q", in, got, err, a+val+b)
		}
		if _, err := expand(escape(a) + "${FSFUZZ_UNSET}" + escape(b)); err == nil || !strings.Contains(err.Error(), "FSFUZZ_UNSET is not set") {
			t.Errorf("unset variable: %v", err)
		}
	})
}

// FuzzLoadEnvURL sets databases.orders.url from the environment with a
// fuzzed password and name of variable: Load never panics, keeps the
// password as given and never quotes it in an error.
func FuzzLoadEnvURL(f *testing.F) {
	f.Add("DATABASES__ORDERS__URL", "2024#s3cretpw")
	f.Add("DATABASES__ORDERS__URL", "s3cr et")
	f.Add("databases__Orders__url", "${FSFUZZ_UNSET}")
	f.Add("FEDERATION__MAX_PAGE_SIZE", "99999")
	f.Fuzz(func(t *testing.T, name, pw string) {
		if name == "" || strings.ContainsAny(name, "=\x00") || strings.ContainsRune(pw, 0) {
			return
		}
		isolate(t)
		for _, db := range RequiredDatabases {
			t.Setenv("FEDSAGA_DATABASES__"+strings.ToUpper(db)+"__URL", "postgres://app@db/"+db)
		}
		u := "postgres://app:" + pw + "@db:5432/orders"
		t.Setenv(EnvPrefix+name, u)
		c, err := Load("")
		switch {
		case err != nil:
			if len(pw) >= 6 && strings.Contains(err.Error(), pw) && strings.EqualFold(name, "DATABASES__ORDERS__URL") {
				t.Errorf("Load() = %v, quotes the password %q", err, pw)
			}
		case strings.EqualFold(name, "DATABASES__ORDERS__URL") && !strings.Contains(pw, "$"):
			if c.Databases["orders"].URL != u {
				t.Errorf("databases.orders.url = %q, want %q", c.Databases["orders"].URL, u)
			}
		}
	})
}

// FuzzCheckDatabaseURL holds CheckDatabaseURL to pgx's own parser: what pgx
// accepts is accepted (but for the refusals it documents), what pgx refuses
// for its syntax or ports is refused, and no message quotes the password.
func FuzzCheckDatabaseURL(f *testing.F) {
	for _, l := range leaks {
		f.Add(l.url)
	}
	for _, s := range []string{"postgres://u:s3cretpw@host:99999/db", "postgres://u:12/s3cretpw@host/db", "host=db port=x",
		"postgres://[::1", "postgres://h1,h2:5432,5433/db", "postgresql://%zz@h", "host='unterminated", "postgres://u:pw@h/db?x=a=b"} {
		f.Add(s)
	}
	// Text of CheckDatabaseURL's own messages: a password can be in it by chance.
	var fixed strings.Builder
	for _, s := range []string{"postgres://h:x/d", "postgres://h:1,2,3", "postgres://u:1/x@h", " postgres://", "postgres://h/ d", "a b=c", "mysql://"} {
		if err := CheckDatabaseURL(s); err != nil {
			fixed.WriteString(err.Error())
		}
	}
	safeKeys := []string{"host", "port", "dbname", "database", "user", "password", "sslmode", "application_name", "search_path"}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckDatabaseURL(s)
		// Only keys that read no file: pgx refuses any other key before it
		// reads files, which a fuzzed string could name (/dev/zero).
		cfg, perr := pgconn.ParseConfigWithOptions(s, pgconn.ParseConfigOptions{ConnStringAllowedKeys: safeKeys})
		if perr != nil && strings.Contains(perr.Error(), "is not in ConnStringAllowedKeys") {
			return
		}
		deliberate := err != nil && (strings.Contains(err.Error(), `holds an "@" after the host`) || strings.Contains(err.Error(), "must start with") ||
			strings.Contains(err.Error(), "required; set"))
		syntax := perr != nil && (strings.Contains(perr.Error(), "failed to parse as") || strings.Contains(perr.Error(), "invalid port") ||
			strings.Contains(perr.Error(), "port numbers to"))
		switch {
		case perr == nil && err != nil && !deliberate:
			t.Errorf("pgx accepts %q, CheckDatabaseURL refuses it: %v", s, err)
		case syntax && err == nil:
			t.Errorf("pgx refuses %q (%v), CheckDatabaseURL accepts it", s, perr)
		}
		if err == nil || perr != nil || len(cfg.Password) < 6 {
			return
		}
		if msg := err.Error(); strings.Contains(msg, cfg.Password) && !strings.Contains(fixed.String(), cfg.Password) {
			t.Errorf("CheckDatabaseURL(%q) = %v, quotes the password", s, err)
		}
	})
}
