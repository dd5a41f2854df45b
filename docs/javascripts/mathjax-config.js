// MathJax 3 for pymdownx.arithmatex (generic mode: \( \) and \[ \] inside .arithmatex) and for the
// teaching notebook's Markdown (its cells and displayed Markdown keep $ and $$ as nbconvert wrote them).
// MathJax itself is vendored into the site (docs/site/hooks.py): nothing is fetched.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  svg: { fontCache: "global" },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-MarkdownOutput",
  },
};
