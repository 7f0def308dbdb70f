#include "adapters/chat/wechat/xml.hpp"

#include <string>
#include <string_view>
#include <variant>

#include <gtest/gtest.h>

namespace leadhatch::adapters::wechat {
namespace {

XmlElement parse_ok(std::string_view doc, const XmlLimits& limits = {}) {
    auto result = parse_xml(doc, limits);
    if (const auto* error = std::get_if<std::string>(&result)) {
        ADD_FAILURE() << "parse failed: " << *error;
        return {};
    }
    return std::get<XmlElement>(std::move(result));
}

std::string parse_error(std::string_view doc, const XmlLimits& limits = {}) {
    auto result = parse_xml(doc, limits);
    if (const auto* error = std::get_if<std::string>(&result)) return *error;
    return {};
}

std::string nested(int depth) {
    std::string doc;
    for (int i = 0; i < depth; ++i) doc += "<a>";
    doc += "x";
    for (int i = 0; i < depth; ++i) doc += "</a>";
    return doc;
}

// --- WeChat / WeCom bodies ----------------------------------------------------------------------

TEST(WechatXml, ParsesOfficialAccountTextMessage) {
    const XmlElement xml = parse_ok(
        "<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>"
        "<CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>"
        "<MsgId>1234567890123456</MsgId></xml>");
    EXPECT_EQ(xml.name, "xml");
    ASSERT_EQ(xml.children.size(), 6U);
    EXPECT_EQ(xml.child_text("ToUserName"), "gh_abc");
    EXPECT_EQ(xml.child_text("FromUserName"), "oUser");
    EXPECT_EQ(xml.child_text("CreateTime"), "1348831860");
    EXPECT_EQ(xml.child_text("MsgType"), "text");
    EXPECT_EQ(xml.child_text("Content"), "你好");
    EXPECT_EQ(xml.child_text("MsgId"), "1234567890123456");
    EXPECT_EQ(xml.child("Missing"), nullptr);
    EXPECT_EQ(xml.child_text("Missing"), "");
}

TEST(WechatXml, ParsesIndentedBodyWithLeafTextUntrimmed) {
    // The layout of Tencent's documentation samples, with a declaration and a comment.
    const XmlElement xml = parse_ok(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<!-- pushed by WeCom -->\n"
        "<xml>\n"
        "  <ToUserName><![CDATA[toUser]]></ToUserName>\n"
        "  <Content><![CDATA[  two spaces ]]></Content>\n"
        "  <MsgType>  <![CDATA[video]]></MsgType>\n"
        "</xml>\n");
    EXPECT_EQ(xml.child_text("ToUserName"), "toUser");
    EXPECT_EQ(xml.child_text("Content"), "  two spaces ");
    EXPECT_EQ(xml.child_text("MsgType"), "  video");
    EXPECT_EQ(xml.children.size(), 3U);
}

TEST(WechatXml, ParsesWeComExternalContactEvent) {
    // Shape of the add_external_contact sample, developer.work.weixin.qq.com/document/path/92277.
    const XmlElement xml = parse_ok(
        "<xml>\n<SuiteId><![CDATA[ww4asffe99e54c0f4c]]></SuiteId>\n<AuthCorpId><![CDATA[wxf8b4f85f3a794e77]]>"
        "</AuthCorpId>\n<InfoType><![CDATA[change_external_contact]]></InfoType>\n<TimeStamp>1403610513</TimeStamp>\n"
        "<ChangeType><![CDATA[add_external_contact]]></ChangeType>\n<UserID><![CDATA[zhangsan]]></UserID>\n"
        "<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACH71w]]></ExternalUserID>\n<State><![CDATA[teststate]]>"
        "</State>\n<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>\n</xml>");
    EXPECT_EQ(xml.child_text("InfoType"), "change_external_contact");
    EXPECT_EQ(xml.child_text("ChangeType"), "add_external_contact");
    EXPECT_EQ(xml.child_text("ExternalUserID"), "woAJ2GCAAAXtWyujaWJHDDGi0mACH71w");
    EXPECT_EQ(xml.child_text("TimeStamp"), "1403610513");
}

TEST(WechatXml, ParsesNestedAndRepeatedChildren) {
    // Shape of WeCom's update_user event with extended attributes (repeated <Item>).
    const XmlElement xml = parse_ok(
        "<xml><Event><![CDATA[change_contact]]></Event><ChangeType>update_user</ChangeType><ExtAttr>"
        "<Item><Name><![CDATA[爱好]]></Name><Type>0</Type><Text><Value><![CDATA[旅游]]></Value></Text></Item>"
        "<Item><Name><![CDATA[卡号]]></Name><Type>1</Type><Web><Title><![CDATA[企业微信]]></Title>"
        "<Url><![CDATA[https://work.weixin.qq.com]]></Url></Web></Item></ExtAttr></xml>");
    EXPECT_EQ(xml.child_text("ChangeType"), "update_user");
    const XmlElement* ext = xml.child("ExtAttr");
    ASSERT_NE(ext, nullptr);
    const auto items = ext->children_named("Item");
    ASSERT_EQ(items.size(), 2U);
    EXPECT_EQ(items[0]->child_text("Name"), "爱好");
    ASSERT_NE(items[0]->child("Text"), nullptr);
    EXPECT_EQ(items[0]->child("Text")->child_text("Value"), "旅游");
    EXPECT_EQ(items[1]->child_text("Type"), "1");
    ASSERT_NE(items[1]->child("Web"), nullptr);
    EXPECT_EQ(items[1]->child("Web")->child_text("Url"), "https://work.weixin.qq.com");
    EXPECT_TRUE(xml.children_named("Nope").empty());
}

TEST(WechatXml, SkipsAttributesCommentsAndProcessingInstructions) {
    const XmlElement xml = parse_ok(
        "\xEF\xBB\xBF<?xml version='1.0'?><xml id=\"1\" b = '&amp;&#65;' c=\"'\">"
        "<!-- <NotAnElement/> --><?app data?><A  x=\"y\"/><B>t</B ></xml><!-- after --> \n");
    EXPECT_EQ(xml.name, "xml");
    ASSERT_EQ(xml.children.size(), 2U);
    EXPECT_EQ(xml.children[0].name, "A");
    EXPECT_EQ(xml.children[0].text, "");
    EXPECT_EQ(xml.child_text("B"), "t");
    EXPECT_EQ(xml.text, "");
}

TEST(WechatXml, AcceptsWellFormedDeclarations) {
    for (const char* doc :
         {"<?xml version=\"1.0\"?><xml/>", "<?xml version='1.1' ?><xml/>",
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?><xml/>",
          "<?xml version=\"1.0\" encoding='gb2312' standalone=\"yes\"?><xml/>",
          "<?xml version = \"1.0\" standalone='no'?>\n<xml/>", "\xEF\xBB\xBF<?xml version=\"1.0\"?><xml/>",
          "<!---->\n<xml><!-- - --><?target?><?t  x?></xml>"}) {
        EXPECT_EQ(parse_error(doc), "") << doc;
    }
}

TEST(WechatXml, KeepsMixedTextInDocumentOrder) {
    const XmlElement xml = parse_ok("<a>one<b/>two<![CDATA[<three>]]><!--x-->four</a>");
    EXPECT_EQ(xml.text, "onetwo<three>four");
    EXPECT_EQ(xml.children.size(), 1U);
}

// --- Entities and character references ----------------------------------------------------------

TEST(WechatXml, DecodesPredefinedEntitiesAndCharacterReferences) {
    EXPECT_NE(parse_error("<a>&#X41;</a>"), "");  // the hex marker is lower-case 'x' only
    EXPECT_EQ(parse_ok("<a>&lt;&gt;&amp;&quot;&apos;</a>").text, "<>&\"'");
    EXPECT_EQ(parse_ok("<a>&#65;&#x41;&#x0041;&#0065;</a>").text, "AAAA");
    EXPECT_EQ(parse_ok("<a>&#x4F60;&#22909;&#x1F600;&#xe9;</a>").text, "你好\xF0\x9F\x98\x80\xC3\xA9");
    EXPECT_EQ(parse_ok("<a>&#9;&#10;&#13;&#x10FFFF;</a>").text, "\t\n\r\xF4\x8F\xBF\xBF");
    EXPECT_EQ(parse_ok("<a>&amp;lt;</a>").text, "&lt;");                    // decoded once, never re-expanded
    EXPECT_EQ(parse_ok("<a><![CDATA[&lt;&amp;]]></a>").text, "&lt;&amp;");  // CDATA is literal
}

TEST(WechatXml, RejectsUnknownOrInvalidReferences) {
    for (const char* doc : {"<a>&nbsp;</a>",     "<a>&xxe;</a>",
                            "<a>&amp</a>",       "<a>&</a>",
                            "<a>&;</a>",         "<a>&#;</a>",
                            "<a>&#x;</a>",       "<a>&#0;</a>",
                            "<a>&#x1F;</a>",     "<a>&#xD800;</a>",
                            "<a>&#xDFFF;</a>",   "<a>&#xFFFE;</a>",
                            "<a>&#x110000;</a>", "<a>&#99999999999999999999;</a>",
                            "<a>&#-1;</a>",      "<a>&#12a;</a>",
                            "<a>&# 65;</a>",     "<a>&#xG1;</a>",
                            "<a b='&foo;'/>",    "<a>&LT;</a>"}) {
        EXPECT_NE(parse_error(doc), "") << doc;
    }
}

// --- CDATA --------------------------------------------------------------------------------------

TEST(WechatXml, CdataSplitsTerminatorSafely) {
    EXPECT_EQ(xml_cdata("plain"), "<![CDATA[plain]]>");
    EXPECT_EQ(xml_cdata(""), "<![CDATA[]]>");
    EXPECT_EQ(xml_cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
}

TEST(WechatXml, CdataRoundTripsThroughParser) {
    for (const std::string_view text : {"", "plain", "]]>", "a]]>b", "]]>]]>", "]]]>>", "]]]]>", "]", "]]", "x]]",
                                        "<![CDATA[nested]]>", "&amp; <tag> \"q\" 'a'", "你好 ]]> 世界", "\n\t\r"}) {
        const std::string doc = "<Content>" + xml_cdata(text) + "</Content>";
        EXPECT_EQ(parse_ok(doc).text, text) << doc;
    }
}

TEST(WechatXml, EscapeRoundTripsThroughParser) {
    const std::string_view text = "a<b>&c\"d'e]]>";
    EXPECT_EQ(xml_escape(text), "a&lt;b&gt;&amp;c&quot;d&apos;e]]&gt;");
    EXPECT_EQ(parse_ok("<a>" + xml_escape(text) + "</a>").text, text);
}

// --- DTDs and entity declarations ---------------------------------------------------------------

TEST(WechatXml, RejectsBillionLaughs) {
    const std::string doc =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE lolz [\n"
        " <!ENTITY lol \"lol\">\n"
        " <!ELEMENT lolz (#PCDATA)>\n"
        " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
        " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
        " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
        " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
        " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
        " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
        "]>\n"
        "<lolz>&lol9;</lolz>";
    const std::string error = parse_error(doc);
    EXPECT_NE(error.find("DOCTYPE"), std::string::npos) << error;
}

TEST(WechatXml, RejectsExternalEntity) {
    EXPECT_NE(parse_error("<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
                          "<xml><Content>&xxe;</Content></xml>"),
              "");
    // Without the declaration the reference is simply undefined.
    EXPECT_NE(parse_error("<xml><Content>&xxe;</Content></xml>").find("undefined entity"), std::string::npos);
}

TEST(WechatXml, RejectsDeclarationsAnywhere) {
    for (const char* doc :
         {"<!DOCTYPE xml><xml/>", "<!doctype xml><xml/>", "<!ENTITY a \"b\"><xml/>", "<xml><!ENTITY a \"b\"></xml>",
          "<xml><!DOCTYPE x></xml>", "<xml/><!DOCTYPE x>", "<xml><!ELEMENT x ANY></xml>",
          "<xml><!ATTLIST x y CDATA #IMPLIED></xml>", "<xml><![INCLUDE[ x ]]></xml>", "<!-- c --><!DOCTYPE x><xml/>"}) {
        EXPECT_NE(parse_error(doc), "") << doc;
    }
    EXPECT_NE(parse_error("<!ENTITY a \"b\"><xml/>").find("ENTITY"), std::string::npos);
    // Inside CDATA or a comment the same characters are only text.
    EXPECT_EQ(parse_ok("<xml><![CDATA[<!DOCTYPE x><!ENTITY y \"z\">]]></xml>").text, "<!DOCTYPE x><!ENTITY y \"z\">");
    EXPECT_EQ(parse_ok("<xml><!-- <!DOCTYPE x> --></xml>").text, "");
}

// --- Limits -------------------------------------------------------------------------------------

TEST(WechatXml, EnforcesDepthLimit) {
    EXPECT_EQ(parse_error(nested(16)), "");
    EXPECT_NE(parse_error(nested(17)).find("nested deeper"), std::string::npos);
    EXPECT_NE(parse_error(nested(100000), XmlLimits{.max_bytes = 1U << 24U}), "");
    const std::string unclosed(200000, '<');  // "<<<<...": fails at once, no recursion
    EXPECT_NE(parse_error(unclosed), "");
    std::string opens;
    for (int i = 0; i < 50000; ++i) opens += "<a>";
    EXPECT_NE(parse_error(opens), "");
    EXPECT_EQ(parse_error(nested(3), XmlLimits{.max_depth = 3}), "");
    EXPECT_NE(parse_error(nested(4), XmlLimits{.max_depth = 3}), "");
}

TEST(WechatXml, EnforcesSizeLimit) {
    const std::string doc = "<a>" + std::string(100, 'x') + "</a>";
    EXPECT_EQ(parse_error(doc, XmlLimits{.max_bytes = doc.size()}), "");
    EXPECT_NE(parse_error(doc, XmlLimits{.max_bytes = doc.size() - 1}).find("larger than"), std::string::npos);

    const std::string big = "<a>" + std::string((1U << 20U) - 7, 'x') + "</a>";
    ASSERT_EQ(big.size(), (1U << 20U));
    EXPECT_EQ(parse_error(big), "");
    EXPECT_NE(parse_error(big + " "), "");
}

TEST(WechatXml, EnforcesElementCountLimit) {
    std::string wide = "<a>";
    for (int i = 0; i < 9999; ++i) wide += "<b/>";
    wide += "</a>";
    EXPECT_EQ(parse_ok(wide).children.size(), 9999U);
    EXPECT_NE(parse_error(wide, XmlLimits{.max_elements = 9999}).find("elements"), std::string::npos);
    EXPECT_NE(parse_error("<a><b/><c/><d/></a>", XmlLimits{.max_elements = 3}), "");
    EXPECT_EQ(parse_error("<a><b/><c/></a>", XmlLimits{.max_elements = 3}), "");
}

TEST(WechatXml, HandlesManyReferencesInLinearTime) {
    std::string doc = "<a>";
    for (int i = 0; i < 100000; ++i) doc += "&amp;";
    doc += "</a>";
    EXPECT_EQ(parse_ok(doc).text, std::string(100000, '&'));
    // A run of '&' with a single far ';' is rejected at the first reference.
    EXPECT_NE(parse_error("<a>" + std::string(500000, '&') + ";</a>"), "");
}

// --- Malformed documents ------------------------------------------------------------------------

struct MalformedCase {
    const char* name;
    std::string doc;
};

class WechatXmlMalformed : public testing::TestWithParam<MalformedCase> {};

TEST_P(WechatXmlMalformed, IsRejected) {
    const std::string error = parse_error(GetParam().doc);
    EXPECT_NE(error, "") << "accepted: " << GetParam().doc;
    EXPECT_EQ(error.rfind("xml: ", 0), 0U) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Variants, WechatXmlMalformed,
    testing::Values(
        MalformedCase{"Empty", ""}, MalformedCase{"OnlySpaces", " \n\t"}, MalformedCase{"OnlyText", "hello"},
        MalformedCase{"OnlyComment", "<!-- c -->"}, MalformedCase{"OnlyDeclaration", "<?xml version=\"1.0\"?>"},
        MalformedCase{"TextBeforeRoot", "x<xml/>"}, MalformedCase{"Unclosed", "<xml>"},
        MalformedCase{"UnclosedChild", "<xml><a></xml>"}, MalformedCase{"Mismatched", "<xml></xm>"},
        MalformedCase{"CaseMismatch", "<xml></XML>"}, MalformedCase{"Crossed", "<a><b></a></b>"},
        MalformedCase{"StrayEndTag", "</xml>"}, MalformedCase{"ExtraEndTag", "<xml></xml></xml>"},
        MalformedCase{"TrailingText", "<xml></xml>junk"}, MalformedCase{"TrailingElement", "<xml></xml><xml></xml>"},
        MalformedCase{"TrailingCdata", "<xml/><![CDATA[x]]>"},
        MalformedCase{"LateDeclaration", "<xml/><?xml version=\"1.0\"?>"},
        MalformedCase{"InnerDeclaration", "<xml><?xml version=\"1.0\"?></xml>"},
        MalformedCase{"DeclarationAfterSpace", " <?xml version=\"1.0\"?><xml/>"},
        MalformedCase{"UnterminatedDeclaration", "<?xml version=\"1.0\"<xml/>"},
        MalformedCase{"UnterminatedCdata", "<xml><![CDATA[abc</xml>"},
        MalformedCase{"UnterminatedComment", "<xml><!-- abc</xml>"}, MalformedCase{"UnterminatedStartTag", "<xml"},
        MalformedCase{"UnterminatedEndTag", "<xml></xml"}, MalformedCase{"SpaceAfterLt", "< xml/>"},
        MalformedCase{"DigitName", "<1abc/>"}, MalformedCase{"EmptyName", "<>x</>"},
        MalformedCase{"BadNameChar", "<x@y/>"}, MalformedCase{"AttributeWithoutValue", "<xml attr></xml>"},
        MalformedCase{"UnquotedAttribute", "<xml a=1></xml>"},
        MalformedCase{"UnterminatedAttribute", "<xml a=\"1></xml>"},
        MalformedCase{"AttributesNotSeparated", "<xml a='1'b='2'></xml>"},
        MalformedCase{"LtInAttribute", "<xml a=\"<\"></xml>"}, MalformedCase{"BadSelfClose", "<xml/ >"},
        MalformedCase{"EndTagAttributes", "<a></a b='1'>"},
        MalformedCase{"ControlCharacter", std::string("<xml>\x01</xml>")},
        MalformedCase{"NulCharacter", std::string("<xml>\0</xml>", 12)},
        MalformedCase{"InvalidUtf8", "<xml>\xC3\x28</xml>"}, MalformedCase{"OverlongUtf8", "<xml>\xC0\xBC</xml>"},
        MalformedCase{"SurrogateUtf8", "<xml>\xED\xA0\x80</xml>"},
        MalformedCase{"TruncatedUtf8", "<xml>\xE4\xBD</xml>"},
        MalformedCase{"BeyondUnicode", "<xml>\xF4\x90\x80\x80</xml>"},
        MalformedCase{"CdataEndInText", "<xml>a]]>b</xml>"},
        MalformedCase{"DoubleDashInComment", "<xml><!-- a -- b --></xml>"},
        MalformedCase{"TripleDashCommentEnd", "<xml><!-- a ---></xml>"},
        MalformedCase{"PiWithoutTarget", "<xml><? x?></xml>"}, MalformedCase{"PiBadTarget", "<xml><?p=q?></xml>"},
        MalformedCase{"UpperCaseDeclaration", "<?XML version=\"1.0\"?><xml/>"},
        MalformedCase{"DeclarationWithoutVersion", "<?xml encoding=\"UTF-8\"?><xml/>"},
        MalformedCase{"DeclarationOutOfOrder", "<?xml encoding=\"UTF-8\" version=\"1.0\"?><xml/>"},
        MalformedCase{"DeclarationBadVersion", "<?xml version=\"2.0\"?><xml/>"},
        MalformedCase{"DeclarationUnknownAttribute", "<?xml version=\"1.0\" foo=\"bar\"?><xml/>"},
        MalformedCase{"DeclarationBadStandalone", "<?xml version=\"1.0\" standalone=\"maybe\"?><xml/>"},
        MalformedCase{"DeclarationUnquoted", "<?xml version=1.0?><xml/>"},
        MalformedCase{"DeclarationNoSpace", "<?xml version=\"1.0\"encoding=\"UTF-8\"?><xml/>"}),
    [](const testing::TestParamInfo<MalformedCase>& c) { return std::string(c.param.name); });

TEST(WechatXml, ErrorNamesOffsetButNotContent) {
    const std::string error = parse_error("<xml><Content>secret-phone-13800000000</Contnt></xml>");
    EXPECT_NE(error.find("offset"), std::string::npos) << error;
    EXPECT_EQ(error.find("13800000000"), std::string::npos) << error;
}

}  // namespace
}  // namespace leadhatch::adapters::wechat
