package input

import (
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Value builds the document as a Rego value directly. It is what the engine
// evaluates: going through encoding/json (what ast.InterfaceToValue does
// with a struct) cost more than the rest of a create's Go work together.
// TestValueMatchesJSON keeps it identical to the JSON encoding.
func (d Document) Value() ast.Value {
	o := obj(
		kv("source", str(d.Source)),
		kv("action", str(d.Action)),
		kv("authz", ast.NewTerm(obj(kv("plugin_name", str(d.Authz.PluginName))))),
	)
	if r := d.Request; r != nil {
		req := obj(
			kv("method", str(r.Method)),
			kv("path", str(r.Path)),
			kv("api_version", str(r.APIVersion)),
			kv("user", str(r.User)),
			kv("auth_method", str(r.AuthMethod)),
			kv("user_agent", str(r.UserAgent)),
		)
		if len(r.Query) > 0 {
			q := ast.NewObject()
			for k, vs := range r.Query {
				q.Insert(str(k), strs(vs))
			}
			req.Insert(key("query"), ast.NewTerm(q))
		}
		o.Insert(key("request"), ast.NewTerm(req))
	}
	if p := d.Plugin; p != nil {
		o.Insert(key("plugin"), ast.NewTerm(p.value()))
	}
	if sv := d.Service; sv != nil {
		o.Insert(key("service"), ast.NewTerm(obj(kv("name", str(sv.Name)), kv("stack", str(sv.Stack)))))
	}
	if c := d.Container; c != nil {
		o.Insert(key("container"), ast.NewTerm(c.value()))
	}
	if i := d.Image; i != nil {
		img := obj(
			kv("ref", str(i.Ref)),
			kv("repository", str(i.Repository)),
			kv("tag", str(i.Tag)),
			kv("digest", str(i.Digest)),
			kv("source", str(i.Source)),
			kv("found", ast.BooleanTerm(i.Found)),
			kv("id", str(i.ID)),
			kv("labels", strMap(i.Labels)),
			kv("shell", strs(i.Shell)),
		)
		if i.Error != "" {
			img.Insert(key("error"), str(i.Error))
		}
		if i.ShellFound != nil {
			img.Insert(key("shell_found"), ast.BooleanTerm(*i.ShellFound))
		}
		if i.Catalog != nil {
			img.Insert(key("catalog"), catalogValue(i.Catalog))
		}
		if i.Programs != nil {
			progs := ast.NewObjectWithCapacity(len(i.Programs))
			for name, p := range i.Programs {
				po := obj(kv("found", ast.BooleanTerm(p.Found)), kv("path", str(p.Path)), kv("resolved", str(p.Resolved)))
				if p.HiddenBy != "" {
					po.Insert(key("hidden_by"), str(p.HiddenBy))
				}
				if p.Unknown {
					po.Insert(key("unknown"), ast.BooleanTerm(true))
				}
				if p.Relative {
					po.Insert(key("relative"), ast.BooleanTerm(true))
				}
				if p.NotExecutableBy != "" {
					po.Insert(key("not_executable_by"), str(p.NotExecutableBy))
				}
				progs.Insert(str(name), ast.NewTerm(po))
			}
			img.Insert(key("programs"), ast.NewTerm(progs))
		}
		o.Insert(key("image"), ast.NewTerm(img))
	}
	if d.Project != nil {
		t := d.Project.term
		if t == nil { // not built by NewProject
			t = d.Project.value()
		}
		o.Insert(key("project"), t)
	}
	return o
}

func (c *Container) value() ast.Object {
	h := c.Healthcheck
	ports := make([]*ast.Term, len(c.Ports))
	for i, p := range c.Ports {
		ports[i] = ast.NewTerm(obj(kv("container_port", str(p.ContainerPort)), kv("host_ip", str(p.HostIP)), kv("host_port", str(p.HostPort))))
	}
	o := obj(
		kv("name", str(c.Name)),
		kv("image", str(c.Image)),
		kv("entrypoint", strs(c.Entrypoint)),
		kv("command", strs(c.Command)),
		kv("user", str(c.User)),
		kv("path", strs(c.Path)),
		kv("working_dir", str(c.WorkingDir)),
		kv("mounts", mountsValue(c.Mounts)),
		kv("healthcheck", ast.NewTerm(obj(
			kv("form", str(h.Form)),
			kv("inherited", ast.BooleanTerm(h.Inherited)),
			kv("test", strs(h.Test)),
			kv("program", str(h.Program)),
			kv("args", strs(h.Args)),
			kv("shell", strs(h.Shell)),
			kv("shell_command", str(h.ShellCommand)),
			kv("commands", strs(h.Commands)),
			kv("probe_url", str(h.ProbeURL)),
			kv("probe_loopback", ast.BooleanTerm(h.ProbeLoopback)),
			kv("interval_ns", ast.IntNumberTerm(int(h.IntervalNs))),
			kv("timeout_ns", ast.IntNumberTerm(int(h.TimeoutNs))),
			kv("start_period_ns", ast.IntNumberTerm(int(h.StartPeriodNs))),
			kv("retries", ast.IntNumberTerm(h.Retries)),
			kv("problem", str(h.Problem)),
			kv("truncated", ast.BooleanTerm(h.Truncated)),
		))),
		kv("network", ast.NewTerm(c.Network.value())),
		kv("ports", ast.ArrayTerm(ports...)),
		kv("memory_bytes", ast.IntNumberTerm(int(c.MemoryBytes))),
		kv("labels", strMap(c.Labels)),
	)
	if c.Compose != nil {
		o.Insert(key("compose"), ast.NewTerm(c.Compose.value()))
	}
	if c.ProbeApp != nil {
		o.Insert(key("probe_app"), ast.NewTerm(c.ProbeApp.value()))
	}
	return o
}

func (n Network) value() ast.Object {
	o := obj(kv("mode", str(n.Mode)), kv("target", str(n.Target)))
	if n.Container != nil {
		o.Insert(key("container"), ast.NewTerm(n.Container.value()))
	}
	return o
}

func (t *NetworkContainer) value() ast.Object {
	tc := obj(
		kv("found", ast.BooleanTerm(t.Found)),
		kv("id", str(t.ID)),
		kv("name", str(t.Name)),
		kv("image", str(t.Image)),
		kv("running", ast.BooleanTerm(t.Running)),
	)
	if t.Compose != nil {
		tc.Insert(key("compose"), ast.NewTerm(t.Compose.value()))
	}
	if t.Error != "" {
		tc.Insert(key("error"), str(t.Error))
	}
	return tc
}

func (c *Compose) value() ast.Object {
	o := obj(kv("project", str(c.Project)), kv("service", str(c.Service)))
	if len(c.DependsOn) > 0 {
		deps := ast.NewObjectWithCapacity(len(c.DependsOn))
		for _, k := range sortedKeys(c.DependsOn) {
			d := c.DependsOn[k]
			deps.Insert(ast.StringTerm(k), ast.NewTerm(obj(kv("condition", str(d.Condition)), kv("required", ast.BooleanTerm(d.Required)))))
		}
		o.Insert(key("depends_on"), ast.NewTerm(deps))
	}
	return o
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type pair struct {
	k string
	v *ast.Term
}

func kv(k string, v *ast.Term) pair { return pair{k, v} }

func obj(pairs ...pair) ast.Object {
	o := ast.NewObjectWithCapacity(len(pairs) + 2)
	for _, p := range pairs {
		o.Insert(key(p.k), p.v)
	}
	return o
}

// commonTerms are the document's object keys and its most frequent values
// as terms made once. A create's document has about a hundred strings, most
// of them these: shared (Rego terms are never changed once built), they
// cost no allocation per decision.
var commonTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, s := range []string{
		// keys
		"action", "api_version", "args", "auth_method", "authz", "command", "commands", "compose", "condition", "container", "container_port", "depends_on", "dependents", "digest", "entrypoint", "error", "form", "found", "healthcheck", "hidden_by", "host_ip", "host_port", "id", "image", "index", "inherited", "interval_ns", "joined_by", "labels", "memory_bytes", "method", "mode", "mounts", "name", "network", "not_executable_by", "path", "plugin", "plugin_name", "ports", "probe_app", "probe_loopback", "probe_url", "problem", "program", "programs", "project", "query", "ref", "relative", "repository", "request", "required", "resolved", "retries", "running", "service", "shell", "shell_command", "shell_found", "source", "stack", "start_period_ns", "tag", "target", "test", "timeout_ns", "truncated", "type", "unknown", "user", "user_agent", "working_dir",
		// values
		"", "dockerd", "check", "container.create", "container.start", "service.create", "service.update",
		"POST", "GET", "/containers/create", "1.41", "cmd", "shell", "none", "default", "host", "bridge",
		"catalog", "index", "daemon", "bind", "volume", "tmpfs", "service_healthy", "service_started",
		"service_completed_successfully", "/", "/bin/sh", "-c", "-f", "sh", "curl", "wget",
		"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
	} {
		m[s] = ast.StringTerm(s)
	}
	return m
}()

// key is the term of an object key.
func key(k string) *ast.Term { return str(k) }

func str(s string) *ast.Term {
	if t, ok := commonTerms[s]; ok {
		return t
	}
	return ast.StringTerm(s)
}

func strs(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = str(s)
	}
	return ast.ArrayTerm(ts...)
}

func strMap(m map[string]string) *ast.Term {
	o := ast.NewObjectWithCapacity(len(m))
	for _, k := range sortedKeys(m) {
		o.Insert(str(k), str(m[k]))
	}
	return ast.NewTerm(o)
}

func mountsValue(ms []Mount) *ast.Term {
	ts := make([]*ast.Term, len(ms))
	for i, m := range ms {
		ts[i] = ast.NewTerm(obj(kv("target", str(m.Target)), kv("type", str(m.Type))))
	}
	return ast.ArrayTerm(ts...)
}

// catalogValue is input.image.catalog: {"entry": {...}}, or {} without an
// entry. The policy engine usually sets it on the Rego value itself
// (policy.EntryQuery); this is for a document that carries one.
func catalogValue(c *CatalogFacts) *ast.Term {
	o := ast.NewObject()
	if c.Entry != nil {
		if v, err := ast.InterfaceToValue(c.Entry); err == nil {
			o.Insert(key("entry"), ast.NewTerm(v))
		}
	}
	return ast.NewTerm(o)
}
