"""A known site rebuilt in a markup its adapter does not know (a WordPress-style theme: JSON-LD `Article` in
an `@graph`, `<time>` elements, an `entry-content` body): the generic extractor reads it, the crawl says so
in one warning line, the switch itself is never an edit, and every edit made after it is caught, once."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Newsmon
from tests.fakesite import THEMES, FakeArticle, FakeSite, _Renderer, esc, json_for_script, make_article

IDS = [433100 + i for i in range(6)]
EDITIONS = ["cambodge", "bangkok"]


def wordpress_article(render: _Renderer, a: FakeArticle) -> str:
    """The same article in markup none of newsmon's adapters knows, wrapped in the site's usual chrome."""
    pub, upd = a.local(a.published), a.local(a.updated) if a.updated else None
    graph: list[dict[str, Any]] = [
        {"@type": "WebSite", "@id": "/#website", "name": "lepetitjournal.com"},
        {"@type": "Article", "@id": f"{a.url}#article", "headline": a.title, "datePublished": pub.isoformat(),
         "author": {"@type": "Person", "name": a.author}, "articleSection": a.section, "description": a.lead,
         **({"dateModified": upd.isoformat()} if upd else {})}]
    blocks = []
    for b in a.blocks[1:]:
        if b.kind == "p":
            blocks.append(f"<p>{esc(b.text)}</p>")
        elif b.kind == "h2":
            blocks.append(f'<h2 class="wp-block-heading">{esc(b.text)}</h2>')
        elif b.kind == "quote":
            blocks.append(f'<blockquote class="wp-block-quote"><p>{esc(b.text)}</p></blockquote>')
        elif b.kind == "image":
            blocks.append(f'<figure class="wp-block-image"><img src="/wp-content/uploads/{a.id}.jpg" alt="">'
                          f"<figcaption>{esc(b.text)}</figcaption></figure>")
    dates = f'<time class="entry-date published" datetime="{pub.isoformat()}">{pub:%d/%m/%Y}</time>'
    if upd:
        dates += f' <time class="updated" datetime="{upd.isoformat()}">{upd:%d/%m/%Y}</time>'
    title = esc(a.title)
    return f"""<!DOCTYPE html><html lang="fr-FR"><head><meta charset="UTF-8"><title>{title} – lepetitjournal.com</title>
<link rel="canonical" href="{esc(a.url)}"><meta property="og:title" content="{title}">
<meta property="og:type" content="article"><meta name="description" content="{esc(a.lead)}">
<script type="application/ld+json">{json_for_script({"@context": "https://schema.org", "@graph": graph})}</script>
</head><body class="post-template-default single single-post">{render.chrome_top()}
<div id="page" class="site"><main id="main" class="site-main"><article class="post type-post hentry">
<header class="entry-header"><span class="cat-links">{esc(a.section)}</span><h1 class="entry-title">{title}</h1>
<div class="entry-meta"><span class="byline">Par <span class="author vcard">{esc(a.author)}</span></span>
<span class="posted-on">{dates}</span></div></header>
<div class="entry-summary"><p>{esc(a.lead)}</p></div>
<div class="entry-content">{"".join(blocks)}</div>
<footer class="entry-footer"><div class="sharedaddy">Partager {render.n.share()}</div></footer></article>
{render.related_section(a)}</main>{render.chrome_side()}</div>{render.chrome_bottom()}</body></html>"""


THEMES.setdefault("wordpress", wordpress_article)


def text_changes(newsmon: Newsmon) -> list[dict]:
    return [c for c in newsmon.changes() if c["text_changed"]]


def test_a_redesign_no_adapter_knows_is_read_and_only_the_sites_edits_are_reported(newsmon: Newsmon) -> None:
    with FakeSite(theme="classic", noise=True) as site:
        for i, article_id in enumerate(IDS):
            site.add(make_article(article_id, EDITIONS[i % 2], paragraphs=5 + i))
        newsmon.crawl(site)
        assert len(newsmon.export()) == len(IDS)

        # The switch, and an edit made with it: a silent body edit and an announced title edit.
        site.theme = "wordpress"
        body_edit = site.article(IDS[1])
        paragraph = next(b for b in body_edit.blocks if b.kind == "p")
        paragraph.text = paragraph.text + " Une phrase ajoutée après la refonte."
        site.edit(body_edit.id, blocks=list(body_edit.blocks))
        title_edit = site.article(IDS[2])
        site.edit(title_edit.id, title="Un titre réécrit pendant la refonte du site",
                  updated=title_edit.published + timedelta(days=1))
        proc = newsmon.run("crawl", "lepetitjournal", "--base-url", site.base_url, "--all")
        assert proc.stderr.splitlines() == [
            f"newsmon: warning: lepetitjournal: {len(IDS)} article page(s) read by the generic extractor: the site's "
            "own layout no longer matches them (has its markup changed?)"]
        assert "read by the generic extractor 6" in proc.stdout

        changed = {int(c["article_id"]): c for c in text_changes(newsmon)}
        assert sorted(changed) == [IDS[1], IDS[2]]  # the switch itself is no edit
        # An edit made in the very fetch that switched extractors is caught against the old page read again by
        # the new extractor, less the text the new markup only moved between fields (the chapô: body -> lead).
        assert [f for f in changed[IDS[1]]["fields"] if f in ("title", "lead", "author", "body", "captions")] == ["body"]
        assert changed[IDS[1]]["added_words"] == 6 and changed[IDS[1]]["removed_words"] == 0
        assert changed[IDS[1]]["announced"] is False
        assert "title" in changed[IDS[2]]["fields"] and changed[IDS[2]]["announced"] is True
        switched = {int(c["article_id"]) for c in newsmon.changes() if c["fields"][:1] == ["extractor"]}
        assert switched == set(IDS)  # every article's history says its extractor changed, once
        latest = {int(v["article_id"]): v for v in newsmon.export()}
        assert all(latest[i]["extractor"].startswith("generic/3+trafilatura-") for i in IDS)
        assert latest[IDS[2]]["title"] == "Un titre réécrit pendant la refonte du site"

        # The history says the extractor changed, as a change that is no edit of the text.
        history = newsmon.json("history", str(IDS[0]), "--json")
        switch = [v for v in history["versions"] if v["fields"][:1] == ["extractor"]]
        assert len(switch) == 1 and switch[0]["metadata_only"] is True

        # Re-checks of unchanged pages under the new markup find nothing; the next edit is caught, once.
        site.rotate_noise()
        newsmon.crawl(site, "--all")
        assert sorted(int(c["article_id"]) for c in text_changes(newsmon)) == [IDS[1], IDS[2]]
        later = site.article(IDS[4])
        paragraph = [b for b in later.blocks if b.kind == "p"][2]
        paragraph.text = paragraph.text.replace(" ", " vraiment ", 1)
        site.edit(later.id, blocks=list(later.blocks))
        newsmon.crawl(site, "--all")
        after = [c for c in text_changes(newsmon) if int(c["article_id"]) == IDS[4]]
        assert len(after) == 1 and after[0]["fields"] == ["body"] and after[0]["added_words"] == 1
        assert after[0]["removed_words"] == 0


def test_pages_nothing_can_read_still_raise_the_alarm(newsmon_sqlite: Newsmon) -> None:
    """A script-rendered page has no article for any extractor: the crawl fails with the alarm, as before."""
    with FakeSite(theme="classic", noise=False) as site:
        for i, article_id in enumerate(IDS):
            site.add(make_article(article_id, EDITIONS[i % 2]))
        newsmon_sqlite.crawl(site)
        site.redesign()
        proc = newsmon_sqlite.run("crawl", "lepetitjournal", "--base-url", site.base_url, "--all", check=False)
        assert proc.returncode == 1
        assert "has the site's markup changed?" in proc.stderr and "generic extractor" not in proc.stderr
        assert newsmon_sqlite.changes() == []
