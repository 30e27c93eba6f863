def test_login_page_renders(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert b"Log in" in r.data


def test_admin_logs_in_and_sees_people(login_as):
    admin = login_as("admin")
    r = admin.get("/admin/users")
    assert r.status_code == 200
    assert b"Tess Trainee" in r.data
