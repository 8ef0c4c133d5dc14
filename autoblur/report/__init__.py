"""Reports: the JSON report of a run or scan (``build``) and the HTML review sheets (``html``)."""
