package config

import (
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// SeesLastSuccess reports whether any template of the job can read
// TemplateData.LastSuccessTime: one that names it, or one that hands the
// data itself ({{ . }} or {{ $ }} outside a field) to an action, which
// may print or pass on every field. A run of a job whose templates cannot
// see it skips the state store read that finds it. It checks every text
// RenderRun and RenderDestination render; a template that does not parse
// counts as seeing it (its run fails rendering it anyway).
func (j *Job) SeesLastSuccess() bool {
	if j.Destination != nil && treeSees(j.Destination.t) {
		return true
	}
	texts := []string{j.Run.FilterExpression}
	if q := j.Source.Query; q != nil {
		texts = append(texts, q.FilterExpression)
		texts = appendValues(texts, q.Filters)
	}
	if j.Source.SQL != nil {
		texts = append(texts, j.Source.SQL.SQL)
	}
	texts = appendValues(texts, j.Run.Filters)
	texts = appendValues(texts, j.DashboardFilters)
	for _, text := range texts {
		if textSees(text) {
			return true
		}
	}
	return false
}

func appendValues(dst []string, m map[string]string) []string {
	for _, v := range m {
		dst = append(dst, v)
	}
	return dst
}

// textSees is SeesLastSuccess for one source template's text, which
// renderText renders only if it holds "{{".
func textSees(text string) bool {
	if !strings.Contains(text, "{{") {
		return false
	}
	if strings.Contains(text, "LastSuccessTime") {
		return true
	}
	t, err := template.New("").Funcs(templateFuncs(func() time.Time { return time.Time{} })).Parse(text)
	return err != nil || treeSees(t)
}

// treeSees reports whether a parsed template, or one it defines, names
// LastSuccessTime or uses the data itself.
func treeSees(t *template.Template) bool {
	for _, tt := range t.Templates() {
		if tt.Tree != nil && nodeSees(tt.Tree.Root) {
			return true
		}
	}
	return false
}

func nodeSees(n parse.Node) bool {
	switch n := n.(type) {
	case nil:
		return false
	case *parse.DotNode:
		return true // the data, or a value reached from it: conservatively, the data
	case *parse.VariableNode:
		// $ is the data; $x.F names F; other variables hold what was
		// assigned to them, checked where it was assigned.
		return (n.Ident[0] == "$" && len(n.Ident) == 1) || hasLastSuccess(n.Ident[1:])
	case *parse.FieldNode:
		return hasLastSuccess(n.Ident)
	case *parse.ChainNode:
		return hasLastSuccess(n.Field) || nodeSees(n.Node)
	case *parse.ListNode:
		if n == nil {
			return false
		}
		for _, c := range n.Nodes {
			if nodeSees(c) {
				return true
			}
		}
		return false
	case *parse.ActionNode:
		return nodeSees(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return false
		}
		for _, c := range n.Cmds {
			if nodeSees(c) {
				return true
			}
		}
		return false
	case *parse.CommandNode:
		for _, a := range n.Args {
			if nodeSees(a) {
				return true
			}
		}
		return false
	case *parse.IfNode:
		return nodeSees(n.Pipe) || nodeSees(n.List) || nodeSees(n.ElseList)
	case *parse.RangeNode:
		return nodeSees(n.Pipe) || nodeSees(n.List) || nodeSees(n.ElseList)
	case *parse.WithNode:
		return nodeSees(n.Pipe) || nodeSees(n.List) || nodeSees(n.ElseList)
	case *parse.TemplateNode:
		return nodeSees(n.Pipe)
	case *parse.TextNode, *parse.CommentNode, *parse.BoolNode, *parse.NumberNode, *parse.StringNode,
		*parse.IdentifierNode, *parse.NilNode, *parse.BreakNode, *parse.ContinueNode:
		return false
	}
	return true // a node this walk does not know: conservatively, it may
}

func hasLastSuccess(idents []string) bool {
	for _, id := range idents {
		if id == "LastSuccessTime" {
			return true
		}
	}
	return false
}
