package analyze

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
)

// htmlMaxFiles caps the files listed per layer in the page, biggest first,
// so that a 100,000-file layer still makes a page a browser opens at once.
const htmlMaxFiles = 2000

type htmlFile struct {
	P  string `json:"p"`
	S  int64  `json:"s"`
	St string `json:"st"`
	M  bool   `json:"m,omitempty"`
}

type htmlLayer struct {
	Index       int        `json:"index"`
	Instruction string     `json:"instruction"`
	Size        int64      `json:"size"`
	Wasted      int64      `json:"wasted"`
	Added       Count      `json:"added"`
	Modified    Count      `json:"modified"`
	Removed     Count      `json:"removed"`
	OnlyMeta    bool       `json:"onlyMetadata"`
	Files       []htmlFile `json:"files"`
	More        int        `json:"more"`
}

type htmlData struct {
	Image      string      `json:"image"`
	Size       int64       `json:"size"`
	Efficiency float64     `json:"efficiency"`
	Wasted     int64       `json:"wasted"`
	CopyBytes  int64       `json:"copyBytes"`
	Layers     []htmlLayer `json:"layers"`
}

// WriteHTML writes a self-contained page: inline CSS and script, the data
// embedded as JSON, nothing fetched. Run the analysis with KeepChanges for
// the per-layer file lists.
func WriteHTML(w io.Writer, r *Result) error {
	d := htmlData{Image: r.Image, Size: r.SizeBytes, Efficiency: r.Efficiency, Wasted: r.WastedBytes, CopyBytes: r.WastedCopyBytes}
	for _, l := range r.Layers {
		hl := htmlLayer{Index: l.Index, Instruction: Short(l.Instruction), Size: l.Size, Wasted: l.WastedBytes,
			Added: l.Added, Modified: l.Modified, Removed: l.Removed, OnlyMeta: l.OnlyMetadata}
		ch := append([]Change(nil), l.Changes...)
		sort.SliceStable(ch, func(i, j int) bool { return ch[i].Size > ch[j].Size })
		for i, c := range ch {
			if i == htmlMaxFiles {
				hl.More = len(ch) - i
				break
			}
			p := c.Path
			if c.Dir {
				p += "/"
			}
			hl.Files = append(hl.Files, htmlFile{P: p, S: c.Size, St: c.Status.String(), M: c.MetadataOnly})
		}
		d.Layers = append(d.Layers, hl)
	}
	// encoding/json escapes <, > and &, so the JSON cannot close the script.
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	page := strings.Replace(htmlPage, "/*DATA*/null", string(b), 1)
	_, err = io.WriteString(w, page)
	return err
}

const htmlPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>strata analyze</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;display:flex;height:100vh;color:#222}
#left{flex:0 0 46%;overflow:auto;padding:16px;border-right:1px solid #ddd}
#right{flex:1;overflow:auto;padding:16px}
h1{font-size:18px;margin:0 0 4px}
.sum{color:#555;margin-bottom:12px}
#stack{display:flex;flex-direction:column-reverse;gap:2px}
.band{position:relative;background:#4a7fb5;color:#fff;cursor:pointer;border-radius:3px;overflow:hidden;min-height:22px}
.band:hover,.band.sel{outline:3px solid #f0a020}
.band .waste{position:absolute;right:0;top:0;bottom:0;background:repeating-linear-gradient(45deg,#c0392b,#c0392b 6px,#e74c3c 6px,#e74c3c 12px)}
.band .lbl{position:relative;padding:3px 8px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;text-shadow:0 0 3px #000}
.band.meta{background:#8e6bb5}
table{border-collapse:collapse;width:100%}
td,th{padding:2px 6px;text-align:left;border-bottom:1px solid #eee;font-family:ui-monospace,monospace;font-size:12px}
td.n{text-align:right}
.added{color:#1e8449}.modified{color:#b9770e}.removed{color:#c0392b;text-decoration:line-through}
.legend span{display:inline-block;width:12px;height:12px;vertical-align:middle;margin:0 4px 0 10px}
#error{color:#c0392b;font-weight:bold}
</style></head>
<body>
<div id="left">
<h1 id="title"></h1>
<div class="sum" id="sum"></div>
<div class="legend">layers, bottom first; thickness is size<span style="background:#4a7fb5"></span>layer<span style="background:#c0392b"></span>wasted (hidden by later layers)<span style="background:#8e6bb5"></span>metadata only</div>
<div id="error"></div>
<div id="stack"></div>
</div>
<div id="right"><h2 id="lt">Click a layer to list its files</h2><div id="files"></div></div>
<script type="application/json" id="data">/*DATA*/null</script>
<script>
window.onerror=function(m){document.getElementById('error').textContent='error: '+m;};
(function(){
var D=JSON.parse(document.getElementById('data').textContent);
function h(n){var u=['B','kB','MB','GB','TB'],i=0;while(n>=1000&&i<u.length-1){n/=1000;i++;}return (i?n.toFixed(1):n)+' '+u[i];}
function el(t,c,x){var e=document.createElement(t);if(c)e.className=c;if(x!=null)e.textContent=x;return e;}
document.getElementById('title').textContent=D.image;
document.getElementById('sum').textContent='size '+h(D.size)+' \u00b7 efficiency '+(D.efficiency*100).toFixed(2)+' % \u00b7 wasted (dive) '+h(D.wasted)+' \u00b7 hidden copies '+h(D.copyBytes);
var max=1;D.layers.forEach(function(l){if(l.size>max)max=l.size;});
var stack=document.getElementById('stack'),bands=[];
D.layers.forEach(function(l,i){
  var b=el('div','band'+(l.onlyMetadata?' meta':''));b.dataset.index=i;
  b.style.height=Math.max(22,Math.round(420*l.size/max))+'px';
  if(l.wasted>0){var w=el('div','waste');w.style.width=Math.max(1,Math.min(100,100*l.wasted/Math.max(l.size,1)))+'%';w.title=h(l.wasted)+' wasted';b.appendChild(w);}
  b.appendChild(el('div','lbl','#'+l.index+'  '+h(l.size)+'  '+l.instruction));
  b.title=l.instruction;
  b.onclick=function(){show(i);};
  stack.appendChild(b);bands.push(b);
});
function show(i){
  var l=D.layers[i];bands.forEach(function(b){b.classList.remove('sel');});bands[i].classList.add('sel');
  document.getElementById('lt').textContent='Layer '+l.index+': '+l.instruction;
  var f=document.getElementById('files');f.textContent='';
  f.appendChild(el('p',null,'added '+l.added.files+' ('+h(l.added.bytes)+'), modified '+l.modified.files+' ('+h(l.modified.bytes)+'), removed '+l.removed.files+' ('+h(l.removed.bytes)+'), wasted later '+h(l.wasted)));
  var t=el('table');var hr=el('tr');['status','size','path'].forEach(function(x){hr.appendChild(el('th',null,x));});t.appendChild(hr);
  (l.files||[]).forEach(function(x){var r=el('tr','file');r.appendChild(el('td',x.st,x.st+(x.m?' (metadata)':'')));r.appendChild(el('td','n',h(x.s)));r.appendChild(el('td',x.st,x.p));t.appendChild(r);});
  f.appendChild(t);
  if(l.more>0)f.appendChild(el('p',null,'\u2026 and '+l.more+' smaller paths'));
}
if(D.layers.length)show(D.layers.length-1);
document.body.dataset.ready='1';
})();
</script>
</body></html>
`
