import Testing
@Test func conformancePlaceholder() {}
