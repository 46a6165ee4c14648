//! Plain-text documents (corpus files, `text/plain` pages) as a [`Document`]: one paragraph per
//! blank-line-separated block, the first short line as the title.

use super::{Block, BlockKind, Document};

impl Document {
    pub fn from_plain_text(text: &str) -> Document {
        let text = text.replace("\r\n", "\n");
        let mut blocks: Vec<Block> = Vec::new();
        for para in text.split("\n\n") {
            let flat = para.split_whitespace().collect::<Vec<_>>().join(" ");
            if !flat.is_empty() {
                blocks.push(Block {
                    kind: BlockKind::Paragraph,
                    text: flat,
                });
            }
        }
        // A first line without a full stop, and short, reads as a title.
        let title = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .filter(|l| l.chars().count() <= 200 && !l.ends_with(['.', '。']))
            .map(str::to_string);
        Document {
            title,
            published: None,
            lang: None,
            canonical: None,
            blocks,
        }
    }
}
