//! A parsed page made ready to judge, without the database: its text seen through its host's
//! template, its hash, and, where the text is new, its signature and its changes from the last
//! version. Pure.

use std::collections::HashSet;

use crate::check::parse::Parsed;
use crate::compare::relevance;
use crate::compare::sections::Headings;
use crate::compare::{self, diff};
use crate::discover::Listed;
use crate::fetch::Validators;
use crate::model::DocRole;
use crate::similarity::Signature;
use crate::store::{DocumentRow, NewSnapshot, SnapshotMeta, StoredBody};
use crate::template;

/// What a page is compared with: its host's template and its last stored version.
pub struct Basis {
    pub template: HashSet<i64>,
    pub previous: Option<(SnapshotMeta, String)>,
    /// The body that version was read from: its headings, which its stored text does not mark.
    pub previous_body: Option<StoredBody>,
}

/// A parsed page made ready to store, without the database: its text seen through the host's
/// template and, if the text is new, its signature, its changes from the last version and its
/// compressed snapshot.
pub struct Prepared {
    pub text: String,
    pub title: Option<String>,
    /// The page's section headings: where a new document's statements stand.
    pub headings: Headings,
    pub links: Vec<Listed>,
    pub validators: Validators,
    pub had_previous: bool,
    /// The stored version this page was compared with (its snapshot id).
    pub previous_id: Option<i64>,
    pub unchanged: bool,
    pub signature: Option<Signature>,
    /// A new version of a document stored before: what changed; after judging, also what a
    /// newly listed document was found to be.
    pub change: Option<crate::check::decide::Finding>,
    /// Set by judging ([`crate::check::decide`]) where there is a finding.
    pub relevance: Option<relevance::Relevance>,
    pub snapshot: Option<NewSnapshot>,
    /// The page's host and block keys, from which the host's template is learnt.
    pub template_blocks: Option<(String, Vec<i64>)>,
    pub body_hash: String,
    /// The publication date the page gives, which sets when a found document is due again.
    pub published: Option<String>,
}

/// The CPU half of comparing a page (see [`Prepared`]); `host` is `None` for an index.
pub fn prepare(p: Parsed, basis: Basis, host: Option<String>) -> Prepared {
    let is_index = host.is_none();
    let body_hash = crate::check::parse::body_hash(&p.page.body);
    let template = &basis.template;
    let text =
        compare::normalize(&template::strip(p.blocks.iter().map(String::as_str), template).join("\n\n"));
    let hash = compare::text_hash(&text);
    // The previous version is seen through today's template: a block that has since turned out
    // to be the site's boilerplate is not a removal.
    let previous = basis.previous.map(|(m, old)| {
        let old = compare::normalize(&template::strip(old.split("\n\n"), template).join("\n\n"));
        (m, old)
    });
    let unchanged = previous
        .as_ref()
        .is_some_and(|(m, old)| m.text_hash == hash || compare::text_hash(old) == hash);
    let signature = (!is_index && !unchanged).then(|| Signature::of(&text));
    let headings = Headings::new(p.headings.iter().map(String::as_str));
    let change = match &previous {
        Some((_, old)) if !is_index && !unchanged => {
            let both = headings
                .clone()
                .union(&headings_before(basis.previous_body.as_ref(), &p.page.url));
            Some(crate::check::decide::Finding::changed(
                diff::changes(old, &text),
                old,
                &text,
                &both,
            ))
        }
        _ => None,
    };
    let snapshot = (!unchanged).then(|| NewSnapshot {
        title: p.title.clone(),
        published: p.published.clone(),
        lang: p.lang.clone(),
        canonical: p.canonical.clone(),
        encoding: Some(p.encoding.to_string()),
        content_type: p.page.content_type.clone(),
        ..NewSnapshot::new(&text, hash, &p.page.body)
    });
    let template_blocks = host.map(|h| (h, template::candidate_keys(p.blocks.iter().map(String::as_str))));
    Prepared {
        text,
        title: p.title,
        headings,
        links: p.links,
        validators: p.page.validators,
        had_previous: previous.is_some(),
        previous_id: previous.as_ref().map(|(m, _)| m.id),
        unchanged,
        signature,
        change,
        relevance: None,
        snapshot,
        template_blocks,
        body_hash,
        published: p.published,
    }
}

/// The headings of the version a page is compared with, read again from the body it was
/// extracted from: with the page's own, a section renamed in this edit still places what was
/// removed from it. None where the body is not stored or no longer reads.
fn headings_before(body: Option<&StoredBody>, url: &url::Url) -> Headings {
    let found = body
        .and_then(|b| {
            Some(crate::check::parse::headings_of(
                &b.bytes()?,
                b.content_type.as_deref(),
                url,
            ))
        })
        .unwrap_or_default();
    Headings::new(found.iter().map(String::as_str))
}

/// Whether judging a prepared page needs the corpus: `Some(true)` for a newly listed document's
/// verdict, `Some(false)` for only the relevance of a listed document's new version (how much of
/// an imported document it reproduces). A page watched by name is relevant by definition.
pub fn corpus_needs(doc: &DocumentRow, p: &Prepared) -> Option<bool> {
    let needed = p.signature.is_some() && (doc.announce || (p.had_previous && doc.role != DocRole::Page));
    needed.then_some(doc.announce && p.change.is_none())
}
