import Testing

@testable import TendModel
@testable import TendSystem
@testable import TendEngine

@Suite struct EnvironmentFileTests {
    func pairs(_ text: String) -> [String] { parseEnvironmentFile(text).map { "\($0.key)=\($0.value)" } }

    @Test func simpleAssignmentsCommentsAndBlankLines() {
        #expect(
            pairs(
                """
                # comment
                ; also a comment
                A=1

                  B = two words  
                export C=3
                """) == ["A=1", "B=two words", "C=3"])
    }

    @Test func quotedValuesKeepWhitespace() {
        #expect(pairs(#"A="  padded  ""# + "\n" + "B='single $X \\n'") == ["A=  padded  ", #"B=single $X \n"#])
    }

    @Test func escapesInDoubleQuotes() {
        #expect(pairs(#"A="say \"hi\" \\ \$HOME \q""#) == [#"A=say "hi" \ $HOME \q"#])
    }

    @Test func quotesMayCoverPartOfAValue() {
        #expect(pairs(#"A=pre"mid dle"post"#) == ["A=premid dlepost"])
    }

    @Test func backslashContinuesALine() {
        #expect(pairs("A=one \\\ntwo\nB=3") == ["A=one two", "B=3"])
        #expect(pairs("A=\"one \\\ntwo\"") == ["A=one two"])
    }

    @Test func multiLineSingleQuotedValue() {
        #expect(pairs("A='line1\nline2'\nB=x") == ["A=line1\nline2", "B=x"])
    }

    @Test func unquotedBackslashEscapesTheNextCharacter() {
        #expect(pairs(#"A=a\ b\\c"#) == [#"A=a b\c"#])
    }

    @Test func invalidLinesAreSkipped() {
        #expect(pairs("no equals here\n1BAD=x\nGOOD=y\n=z\n") == ["GOOD=y"])
    }

    @Test func emptyValueAndLaterAssignmentsKeptInOrder() {
        #expect(pairs("A=\nA=2\n") == ["A=", "A=2"])
    }

    @Test func crlfIsTrimmed() {
        #expect(pairs("A=1\r\nB=2\r\n") == ["A=1", "B=2"])
    }

    @Test func junkDoesNotCrash() {
        let junk = String(decoding: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37) }, as: UTF8.self)
        _ = parseEnvironmentFile(junk)
        _ = parseEnvironmentFile("A=\"unterminated")
        #expect(pairs("A=\"unterminated") == ["A=unterminated"])
    }
}
