//! Flat pre-order arena over the parsed DOM, with the boilerplate verdict for every node.
//!
//! Everything downstream walks this arena with index loops: subtree of `i` is
//! `i..end[i]`, so no pass needs recursion and 100k-deep documents are harmless.

use scraper::{Html, Node};

/// Elements whose content is never article text.
const DEAD_TAGS: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas",
    "select", "button", "input", "textarea", "option", "video", "audio", "map", "dialog", "link", "meta",
];

/// Structural elements that are boilerplate unless they hold most of the page's text.
const WEAK_TAGS: &[&str] = &["nav", "aside", "footer", "header", "form", "menu"];

/// Class/id words marking page furniture. Matched against whole words of class/id tokens.
const NEG_WORDS: &[&str] = &[
    "nav",
    "navbar",
    "navigation",
    "menu",
    "menubar",
    "footer",
    "foot",
    "header",
    "masthead",
    "related",
    "relatedposts",
    "share",
    "sharing",
    "shares",
    "sharebar",
    "social",
    "socials",
    "comment",
    "comments",
    "commentlist",
    "respond",
    "reply",
    "disqus",
    "cookie",
    "cookies",
    "consent",
    "gdpr",
    "newsletter",
    "breadcrumb",
    "breadcrumbs",
    "crumbs",
    "sidebar",
    "side",
    "aside",
    "promo",
    "promotion",
    "subscribe",
    "subscription",
    "signup",
    "advert",
    "advertisement",
    "ad",
    "ads",
    "adsense",
    "adslot",
    "sponsor",
    "sponsored",
    "tags",
    "tag",
    "taglist",
    "tagcloud",
    "byline",
    "author",
    "authors",
    "meta",
    "postmeta",
    "entrymeta",
    "popular",
    "mostread",
    "trending",
    "recommended",
    "recommendations",
    "recommend",
    "outbrain",
    "taboola",
    "teaser",
    "teasers",
    "print",
    "fontsize",
    "toolbar",
    "pagination",
    "pager",
    "login",
    "modal",
    "popup",
    "overlay",
    "banner",
    "skip",
    "rating",
    "vote",
    "counter",
    "views",
    "hits",
    "follow",
    "bio",
    "disclaimer",
    "copyright",
    "sitemap",
    "logo",
    "search",
    "more",
    "readmore",
    "morestories",
    "alsoread",
    "seealso",
    "dateline",
    "timestamp",
    "caption",
    "credits",
    "newsletterbox",
    "cta",
    "nextprev",
    "prevnext",
    "postnav",
    "topbar",
    "bottombar",
];

/// Class/id words marking the article body; a token made only of these outweighs a furniture
/// word in another token of the same element ("post tag-policy").
const POS_WORDS: &[&str] = &[
    "article",
    "content",
    "entry",
    "post",
    "story",
    "body",
    "text",
    "main",
    "blog",
    "news",
    "detail",
    "zoom",
    "con",
    "articlebody",
    "postbody",
    "storybody",
    "entrycontent",
];

const NEG_ROLES: &[&str] = &[
    "navigation",
    "complementary",
    "banner",
    "contentinfo",
    "dialog",
    "alert",
    "menu",
    "menubar",
    "search",
    "toolbar",
    "tablist",
];

pub struct Tree<'a> {
    pub nodes: Vec<&'a Node>,
    pub parent: Vec<u32>,
    pub end: Vec<u32>,
    /// Non-whitespace characters of text in the subtree (dead tags excluded).
    pub chars: Vec<u32>,
    /// Never text: scripts, styles, form controls and the like, inherited by descendants.
    pub dead: Vec<bool>,
    /// Boilerplate verdict, inherited by descendants.
    pub removed: Vec<bool>,
    pub body: u32,
}

impl<'a> Tree<'a> {
    /// `strict` applies the class/id word lists; the relaxed pass trusts only tags, roles
    /// and hidden markers, for pages whose templates use those words on content wrappers.
    pub fn build(html: &'a Html, strict: bool) -> Tree<'a> {
        let mut nodes: Vec<&'a Node> = Vec::new();
        let mut parent: Vec<u32> = Vec::new();
        let mut dead: Vec<bool> = Vec::new();
        let mut stack = vec![(html.tree.root(), u32::MAX)];
        let mut body = 0u32;
        while let Some((node, par)) = stack.pop() {
            let idx = nodes.len() as u32;
            let value = node.value();
            let is_dead = match value {
                Node::Element(e) => DEAD_TAGS.contains(&e.name()),
                Node::Comment(_) | Node::ProcessingInstruction(_) | Node::Doctype(_) => true,
                _ => false,
            };
            if let Node::Element(e) = value
                && e.name() == "body"
                && body == 0
            {
                body = idx;
            }
            nodes.push(value);
            parent.push(par);
            dead.push(is_dead || (par != u32::MAX && dead[par as usize]));
            // Children pushed in reverse so they pop in document order.
            let first = stack.len();
            stack.extend(node.children().map(|c| (c, idx)));
            stack[first..].reverse();
        }
        let n = nodes.len();
        let mut size = vec![1u32; n];
        let mut chars = vec![0u32; n];
        for i in (0..n).rev() {
            if !dead[i]
                && let Node::Text(t) = nodes[i]
            {
                chars[i] = t.chars().filter(|c| !c.is_whitespace()).count() as u32;
            }
            let p = parent[i];
            if p != u32::MAX {
                size[p as usize] += size[i];
                chars[p as usize] += chars[i];
            }
        }
        let end: Vec<u32> = (0..n).map(|i| i as u32 + size[i]).collect();
        let total = chars[body as usize].max(1);

        let mut removed = dead.clone();
        for i in 0..n {
            let p = parent[i];
            if p != u32::MAX && removed[p as usize] {
                removed[i] = true;
                continue;
            }
            if removed[i] {
                continue;
            }
            let Node::Element(e) = nodes[i] else { continue };
            let name = e.name();
            if matches!(name, "html" | "body") {
                continue;
            }
            let share = chars[i] as f32 / total as f32;
            // One pass over the attributes instead of a lookup per name.
            let (mut class, mut id, mut hidden, mut role) = (None, None, false, None);
            for (k, v) in e.attrs() {
                match k {
                    "class" => class = Some(v),
                    "id" => id = Some(v),
                    "hidden" => hidden = true,
                    "aria-hidden" => hidden |= v == "true",
                    "style" => hidden |= style_hides(v),
                    "role" => role = Some(v),
                    _ => {}
                }
            }
            let (neg, pos, mixed) = class_signals(class, id);
            let role_bad = role.is_some_and(|r| NEG_ROLES.contains(&r.trim().to_ascii_lowercase().as_str()));
            let weak_tag = WEAK_TAGS.contains(&name);
            // A furniture word next to a content word ("content-sidebar") is a layout
            // wrapper when it holds a good share of the text.
            let protected = matches!(name, "article" | "main") || share > 0.6 || (mixed && share > 0.25);
            let furniture = (strict && neg && !pos) || role_bad || weak_tag;
            // Large hidden blocks are usually deferred content a script reveals (streamed
            // server rendering, tabs), not a menu.
            if (hidden && share < 0.6) || (furniture && !protected) {
                removed[i] = true;
            }
        }
        Tree {
            nodes,
            parent,
            end,
            chars,
            dead,
            removed,
            body,
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn tag(&self, i: usize) -> &'a str {
        match self.nodes[i] {
            Node::Element(e) => e.name(),
            _ => "",
        }
    }

    /// All text of a subtree, whitespace-normalised.
    pub fn text_of(&self, i: usize) -> String {
        let mut out = String::new();
        for j in i..self.end[i] as usize {
            if let Node::Text(t) = self.nodes[j]
                && !self.dead[j]
            {
                out.push_str(t);
                out.push(' ');
            }
        }
        super::normalize_ws(&out)
    }
}

/// `display:none` or `visibility:hidden` in an inline style.
fn style_hides(style: &str) -> bool {
    if !style.contains(':') {
        return false;
    }
    let s: String = style
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    s.contains("display:none") || s.contains("visibility:hidden")
}

/// (negative, positive) class/id signals, by whole words so "canvas" is not "nav".
/// Within one token a negative word wins ("related-posts", "entry-meta"); a token that is
/// purely positive elsewhere on the element wins over it ("post tag-policy").
fn class_signals(class: Option<&str>, id: Option<&str>) -> (bool, bool, bool) {
    let mut neg = false;
    let mut pos = false;
    let mut mixed = false;
    for token in class
        .into_iter()
        .chain(id)
        .flat_map(|s| s.split_ascii_whitespace())
    {
        let lower = token.to_ascii_lowercase();
        let joined: String = lower.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let mut t_neg = NEG_WORDS.contains(&joined.as_str()) || HIDDEN_WORDS.contains(&joined.as_str());
        let mut t_pos = POS_WORDS.contains(&joined.as_str());
        for word in lower.split(|c: char| !c.is_ascii_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            t_neg |= NEG_WORDS.contains(&word);
            t_pos |= POS_WORDS.contains(&word);
        }
        // Compound names such as "relatedArticles" or "commentlist".
        t_neg |= NEG_STEMS.iter().any(|stem| joined.contains(stem));
        neg |= t_neg;
        pos |= t_pos && !t_neg;
        mixed |= t_pos && t_neg;
    }
    (neg, pos, mixed)
}

const HIDDEN_WORDS: &[&str] = &[
    "hidden",
    "sronly",
    "visuallyhidden",
    "screenreadertext",
    "screenreaderonly",
    "invisible",
];

const NEG_STEMS: &[&str] = &[
    "comment",
    "related",
    "share",
    "social",
    "cookie",
    "newsletter",
    "breadcrumb",
    "sidebar",
    "footer",
    "subscribe",
    "advert",
    "promo",
    "popular",
    "recommend",
];
