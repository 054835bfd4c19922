// Grammar-checks text with LanguageTool's English (US) rules: one text per input line (stdin, UTF-8),
// one tab-separated line per rule match on stdout: line number (0-based), rule id, offset, length,
// matched text, message. Spelling rules are not run (the caller disables them: medical terms are not in
// LanguageTool's dictionary). Run by scripts/languagetool.sh check; used by tests/test_language.py.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.languagetool.JLanguageTool;
import org.languagetool.Languages;
import org.languagetool.rules.Rule;
import org.languagetool.rules.RuleMatch;
import org.languagetool.rules.spelling.SpellingCheckRule;

public class CheckText {
    public static void main(String[] args) throws Exception {
        JLanguageTool lt = new JLanguageTool(Languages.getLanguageForShortCode("en-US"));
        for (Rule rule : lt.getAllActiveRules()) {
            if (rule instanceof SpellingCheckRule) {
                lt.disableRule(rule.getId());
            }
        }
        for (String id : args) {
            lt.disableRule(id);
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        int n = 0;
        while ((line = in.readLine()) != null) {
            List<RuleMatch> matches = lt.check(line);
            for (RuleMatch m : matches) {
                String text = line.substring(m.getFromPos(), m.getToPos());
                out.println(n + "\t" + m.getRule().getId() + "\t" + m.getFromPos() + "\t" + (m.getToPos() - m.getFromPos())
                        + "\t" + text.replace('\t', ' ') + "\t" + m.getMessage().replace('\t', ' ').replace('\n', ' '));
            }
            n++;
        }
    }
}
