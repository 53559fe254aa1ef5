def test_portal_page_renders_in_chinese_by_default(client):
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "钱包平台" in response.text
