-- leadhatch schema v4 (MySQL/MariaDB): the numbered menu last sent to an identity, for platforms
-- without inline keyboards (WeChat, WeCom): a reply "2" presses its second option. At most 2000
-- bytes are written (the pipeline forgets longer menus).
ALTER TABLE lead_identities ADD COLUMN menu VARCHAR(2048) NOT NULL DEFAULT '';
