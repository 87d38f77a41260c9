using CocoLaunch.Memory;

namespace CocoLaunch.Kvm.Tests;

/// <summary>The page store's zero semantics: its chunks are not zeroed up front, so every path must make unwritten bytes read as 0.</summary>
public sealed class SparsePageStoreTests
{
    [Fact]
    public void PartialWrite_RestOfPageAndNeighboursReadZero()
    {
        var store = new SparsePageStore();
        store.Write((5 * 4096) + 10, [1, 2, 3]);
        var page = new byte[8192];
        store.Read(5 * 4096, page);
        Assert.Equal([1, 2, 3], page[10..13]);
        Assert.Equal(8192 - 3, page.Count(b => b == 0));
        Assert.Equal(1, store.DataPageCount);
    }

    [Fact]
    public void RemovedPage_ReadsZero_AndAPartialRewriteDoesNotResurrectOldBytes()
    {
        var store = new SparsePageStore();
        store.Write(0, Enumerable.Repeat((byte)0xAA, 4096).ToArray());
        store.RemoveRange(0, 1);
        var page = new byte[4096];
        store.Read(0, page);
        Assert.All(page, b => Assert.Equal(0, b));

        store.Write(100, [7]);
        store.Read(0, page);
        Assert.Equal(7, page[100]);
        Assert.Equal(4095, page.Count(b => b == 0));
        Assert.False(store.Contains(1));
    }

    [Fact]
    public void WithPage_FreshPageIsZeroUnlessTheCallerOverwritesIt()
    {
        var store = new SparsePageStore();
        store.Write(0, Enumerable.Repeat((byte)0x55, 4096).ToArray());
        store.RemoveRange(0, 1);
        store.WithPage(0, 0, static (page, _) => Assert.All(page.ToArray(), b => Assert.Equal(0, b)));
        store.WithPage(1, 0, static (page, _) => page.Fill(9), overwritesWholePage: true);
        var back = new byte[4096];
        store.Read(4096, back);
        Assert.All(back, b => Assert.Equal(9, b));
        Assert.Equal(2L, store.PageCount);
    }

    [Fact]
    public void WithPage_FailingOverwrite_LeavesThePageReadingZero()
    {
        var store = new SparsePageStore();
        store.Write(4096, Enumerable.Repeat((byte)0x77, 4096).ToArray());
        store.RemoveRange(1, 1);
        Assert.Throws<InvalidOperationException>(() => store.WithPage(1, 0, static (_, _) => throw new InvalidOperationException("refused"), overwritesWholePage: true));
        var back = new byte[4096];
        store.Read(4096, back);
        Assert.All(back, b => Assert.Equal(0, b));
    }

    private static byte[] Filled(byte value) => Enumerable.Repeat(value, 4096).ToArray();

    [Fact]
    public void LentPage_ReadsAsItsBytes_AndAWriteChangesTheStoreNotTheLender()
    {
        var store = new SparsePageStore();
        byte[] image = [.. Filled(0x11), .. Filled(0x22)];
        store.Lend(4096, image.AsMemory(4096, 4096));
        store.Write(2 * 4096, [3]);
        var back = new byte[3 * 4096];
        store.Read(0, back);
        Assert.All(back[..4096], b => Assert.Equal(0, b));
        Assert.All(back[4096..8192], b => Assert.Equal(0x22, b));
        Assert.Equal(3, back[8192]);
        Assert.Equal(2, store.DataPageCount);

        store.Write(4096 + 5, [9]); // a partial write copies the lent bytes first
        store.WithPage(1, 0, static (page, _) => page[6] = 8);
        store.Read(4096, back.AsSpan(0, 4096));
        Assert.Equal([0x22, 9, 8, 0x22], back[4..8]);
        Assert.Equal(4094, back[..4096].Count(b => b == 0x22));
        Assert.All(image[4096..], b => Assert.Equal(0x22, b));
    }

    [Fact]
    public void LentPage_WholeOverwriteAndRemoval_LetTheBytesGo()
    {
        var store = new SparsePageStore();
        byte[] image = Filled(0x33);
        store.Lend(0, image);
        store.Lend(4096, image);
        store.Write(0, Filled(0x44));
        store.RemoveRange(1, 1);
        var back = new byte[2 * 4096];
        store.Read(0, back);
        Assert.All(back[..4096], b => Assert.Equal(0x44, b));
        Assert.All(back[4096..], b => Assert.Equal(0, b));
        store.Write(4096 + 1, [5]); // a removed lent page comes back as zeros, not as the lender's bytes
        store.Read(4096, back.AsSpan(0, 4096));
        Assert.Equal(4095, back[..4096].Count(b => b == 0));
        Assert.All(image, b => Assert.Equal(0x33, b));
    }

    [Fact]
    public void Lend_TakesOneWholeAlignedPage()
    {
        var store = new SparsePageStore();
        Assert.Throws<ArgumentException>(() => store.Lend(100, new byte[4096]));
        Assert.Throws<ArgumentException>(() => store.Lend(0, new byte[100]));
    }
}
