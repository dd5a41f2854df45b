// MathJax 3 for pymdownx.arithmatex (generic mode: \( \) and \[ \]) and for the teaching notebook's
// rendered Markdown, which keeps $$ as nbconvert wrote it. No single $: prose and docstrings use it as
// a dollar. Code and pre blocks are never typeset (MathJax's skipHtmlTags).
// MathJax itself is vendored into the site (docs/site/hooks.py): nothing is fetched.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  svg: { fontCache: "global" },
};
