-- leadhatch schema v4 (SQLite): the numbered menu last sent to an identity, for platforms without
-- inline keyboards (WeChat, WeCom): a reply "2" presses its second option.
ALTER TABLE lead_identities ADD COLUMN menu TEXT NOT NULL DEFAULT '';
